/*
 * The portal chrome's behaviour: the hold countdown, the skip and help shortcuts, and the preview
 * page's answer panel. Category keys, Enter and zoom belong to the crowd elements themselves.
 */
(() => {
  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn, { once: true });
    else fn();
  }

  onReady(() => {
    const shortcuts = document.getElementById("shortcuts");
    const toggleHelp = () => {
      if (!shortcuts) return;
      if (shortcuts.open) shortcuts.close();
      else shortcuts.showModal();
    };
    document.getElementById("show-shortcuts")?.addEventListener("click", toggleHelp);

    const skipForm = document.getElementById("skip-form");
    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target;
      if (
        target instanceof HTMLElement &&
        (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
      ) {
        return;
      }
      if (event.key === "?") {
        event.preventDefault();
        toggleHelp();
      } else if (event.key === "s" && skipForm && !document.querySelector("dialog[open]")) {
        event.preventDefault();
        skipForm.requestSubmit();
      }
    });

    // The queue's count on the home page follows new tasks, so a reviewer who opened the portal
    // before the work arrived need not reload it.
    const waiting = document.getElementById("waiting");
    const startWorking = document.getElementById("start-working");
    if (waiting && startWorking) {
      const noun = document.getElementById("waiting-noun");
      const refresh = async () => {
        try {
          const response = await fetch("/queue", { headers: { accept: "application/json" } });
          if (!response.ok) return;
          const { waiting: count } = await response.json();
          if (typeof count !== "number") return;
          waiting.textContent = String(count);
          if (noun) noun.textContent = count === 1 ? "task waiting for you" : "tasks waiting for you";
          startWorking.disabled = count === 0;
        } catch {
          // The local cloud is stopping or restarting; the next tick tries again.
        }
      };
      setInterval(refresh, 2000);
    }

    // The hold countdown: measured against the server's clock at render time, not the browser's.
    const timer = document.querySelector(".timer[data-held-until]");
    if (timer) {
      const heldUntil = Date.parse(timer.dataset.heldUntil);
      const offset = Date.parse(timer.dataset.now) - Date.now();
      const value = timer.querySelector(".timer-value");
      const tick = () => {
        const left = Math.max(0, Math.floor((heldUntil - (Date.now() + offset)) / 1000));
        value.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
        timer.classList.toggle("timer-low", left < 60);
        if (left === 0) {
          timer.classList.add("timer-out");
          value.textContent = "Time is up";
          return;
        }
        setTimeout(tick, 1000);
      };
      tick();
    }

    // Preview page: the sandboxed frame posts the answer it would have submitted.
    const frame = document.querySelector("iframe.preview-frame");
    const answer = document.getElementById("answer-content");
    if (frame && answer) {
      window.addEventListener("message", (event) => {
        if (event.source !== frame.contentWindow) return;
        const data = event.data;
        if (data?.type !== "secondlook-crowd-answer") return;
        answer.textContent = JSON.stringify(data.answerContent, null, 2);
      });
    }
  });
})();
