// Live updates: the server pushes a "change" event (Server-Sent Events) whenever an execution
// moves; the page re-fetches itself and swaps the #live section, keeping scroll position and any
// open <details>. No framework, no inline script (the CSP allows scripts from this origin only).
(() => {
  const live = document.getElementById("live");
  let streamUrl = live?.dataset.stream;
  if (!live || !streamUrl) return;
  const isFinished = () => {
    const status = live.dataset.status;
    return status !== undefined && status !== "RUNNING";
  };
  if (isFinished()) return;

  let pending = false;
  let again = false;
  const refresh = async () => {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("live");
      if (!fresh) return;
      const open = new Set(
        [...live.querySelectorAll("details[open]")].map(
          (d) => d.closest("tr")?.firstElementChild?.textContent,
        ),
      );
      live.replaceChildren(...fresh.childNodes);
      for (const [key, value] of Object.entries(fresh.dataset)) live.dataset[key] = value;
      // A batch that started its map run now also listens to its child executions.
      if (live.dataset.stream !== streamUrl) {
        source.close();
        streamUrl = live.dataset.stream;
        source = connect();
      }
      for (const d of live.querySelectorAll("details")) {
        if (open.has(d.closest("tr")?.firstElementChild?.textContent)) d.open = true;
      }
      document.title = doc.title;
      if (isFinished()) source.close();
    } finally {
      pending = false;
      if (again) {
        again = false;
        setTimeout(refresh, 150);
      }
    }
  };
  let timer;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  };
  const connect = () => {
    const stream = new EventSource(streamUrl);
    stream.addEventListener("change", soon);
    // Changes between rendering the page and (re)connecting the stream were never pushed.
    stream.addEventListener("open", soon);
    return stream;
  };
  let source = connect();
})();
