/*
 * The crowd HTML elements A2I worker templates use, implemented locally as custom elements so a
 * template written for AWS works unchanged offline. Each form element contributes exactly the
 * answerContent shape A2I stores (docs: sms-ui-template-crowd-*). Plain browser JS, no build step,
 * no external URLs; every piece of data is rendered with textContent, never as markup.
 */
(() => {
  if (window.__secondlookCrowdElements) return;
  window.__secondlookCrowdElements = true;

  const script = document.currentScript;
  if (script?.src) {
    // The stylesheet sits next to this script, wherever the page loaded it from.
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = script.src.replace(/\.js(\?.*)?$/, ".css");
    document.head.appendChild(link);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Creates an element; `text` is set with textContent, other props as attributes. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  /**
   * Parses a list attribute: JSON (`["a","b"]`) or the single-quoted form A2I's samples use
   * (`['Cat','Dog']`). Quotes may be escaped with a backslash inside either form.
   */
  function parseList(text) {
    if (text === null || text === undefined) return [];
    const source = String(text).trim();
    if (source === "") return [];
    try {
      const parsed = JSON.parse(source);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON: fall through to the quoted-list reader
    }
    if (!source.startsWith("[") || !source.endsWith("]")) return [source];
    const items = [];
    let i = 1;
    const end = source.length - 1;
    while (i < end) {
      const ch = source[i];
      if (ch === "'" || ch === '"') {
        let value = "";
        i++;
        while (i < end && source[i] !== ch) {
          if (source[i] === "\\" && i + 1 < end) i++;
          value += source[i];
          i++;
        }
        items.push(value);
        i++;
      } else if (ch === "," || /\s/.test(ch)) {
        i++;
      } else {
        // A bare word (a number, say): read to the next comma.
        let value = "";
        while (i < end && source[i] !== ",") value += source[i++];
        items.push(value.trim());
      }
    }
    return items;
  }

  /** `exclusion-category="{ text: 'None of the above' }"` (JS object syntax, not JSON). */
  function parseExclusion(text) {
    if (!text) return null;
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.text === "string") return parsed.text;
    } catch {
      // not JSON
    }
    const match = /text\s*:\s*(['"])((?:\\.|(?!\1).)*)\1/.exec(text);
    return match ? match[2].replace(/\\(.)/g, "$1") : null;
  }

  function parseJson(text, fallback) {
    if (!text) return fallback;
    try {
      return JSON.parse(text);
    } catch {
      return fallback;
    }
  }

  /** Runs `fn` once the element's children exist (a sync script upgrades elements before that). */
  function whenParsed(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn, { once: true });
    else fn();
  }

  function meta(name) {
    return document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") || null;
  }

  const isPreview = () => meta("crowd-mode") === "preview";

  /** Moves a named region (`short-instructions`, …) out of the element. */
  function takeRegion(host, tag) {
    const region = Array.from(host.children).find((c) => c.localName === tag);
    if (region) region.remove();
    return region || null;
  }

  function moveChildren(from, to) {
    while (from.firstChild) to.appendChild(from.firstChild);
    return to;
  }

  // ---- base classes ----------------------------------------------------------------------------

  class CrowdElement extends HTMLElement {
    connectedCallback() {
      if (this._crowdBuilt) return;
      whenParsed(() => {
        if (this._crowdBuilt) return;
        this._crowdBuilt = true;
        this.build();
      });
    }
    build() {}
  }

  /** Instructions panel + full-instructions dialog + optional worker comment, shared by task elements. */
  function buildTaskFrame(host, main, side) {
    const shortRegion = takeRegion(host, "short-instructions");
    const fullRegion = takeRegion(host, "full-instructions");
    const commentRegion = takeRegion(host, "worker-comment");
    moveChildren(host, document.createDocumentFragment()); // drop stray text

    const instructions = h("aside", { className: "crowd-instructions", "aria-label": "Instructions" });
    if (shortRegion) instructions.append(moveChildren(shortRegion, h("div", { className: "crowd-short" })));
    if (fullRegion) {
      const title = fullRegion.getAttribute("header") || "Full instructions";
      const dialog = h("dialog", { className: "crowd-full-dialog", "aria-label": title });
      const close = h("button", { type: "button", className: "crowd-btn", text: "Close" });
      close.addEventListener("click", () => dialog.close());
      dialog.append(
        h("h2", { text: title }),
        moveChildren(fullRegion, h("div", { className: "crowd-full" })),
        close,
      );
      const open = h("button", { type: "button", className: "crowd-link", "data-crowd-full": "" });
      open.append("View full instructions ", h("kbd", { text: "i" }));
      open.addEventListener("click", () => dialog.showModal());
      instructions.append(open, dialog);
      host._crowdFullInstructions = dialog;
    }

    let comment = null;
    if (commentRegion) {
      const box = h("div", { className: "crowd-comment" });
      const toggle = h("button", {
        type: "button",
        className: "crowd-link",
        text: commentRegion.getAttribute("link-text") || "Add a comment",
      });
      const area = h("textarea", {
        rows: 3,
        placeholder: commentRegion.getAttribute("placeholder") || "",
        "aria-label": commentRegion.getAttribute("header") || "Comment",
        hidden: true,
      });
      toggle.addEventListener("click", () => {
        area.hidden = false;
        area.focus();
      });
      box.append(toggle, area);
      side.append(box);
      comment = area;
    }
    const layout = h("div", { className: "crowd-task" });
    if (instructions.childNodes.length > 0) layout.append(instructions);
    else layout.classList.add("crowd-no-instructions");
    layout.append(main, side);
    host.append(layout);
    return comment;
  }

  function showError(host, message) {
    let slot = host.querySelector(":scope .crowd-error");
    if (!slot) {
      slot = h("p", { className: "crowd-error", role: "alert" });
      (host.querySelector(".crowd-side") || host).append(slot);
    }
    slot.textContent = message || "";
    slot.hidden = !message;
  }

  // ---- image zoom -------------------------------------------------------------------------------

  let zoomLayer = null;
  function toggleZoom(img) {
    if (zoomLayer) {
      zoomLayer.remove();
      zoomLayer = null;
      return;
    }
    if (!img?.src) return;
    zoomLayer = h("div", { className: "crowd-zoom", role: "dialog", "aria-label": "Zoomed image" });
    const big = h("img", { src: img.src, alt: img.alt || "" });
    zoomLayer.append(big, h("p", { className: "crowd-zoom-hint", text: "Click, z or Esc to close" }));
    zoomLayer.addEventListener("click", () => toggleZoom());
    document.body.append(zoomLayer);
  }

  function imageBlock(host, header) {
    const img = h("img", { className: "crowd-image", alt: header || "Image to review", draggable: "false" });
    const src = host.getAttribute("src");
    if (src) img.src = src;
    img.addEventListener("error", () => {
      img.replaceWith(h("p", { className: "crowd-error", text: "The image could not be loaded." }));
    });
    return img;
  }

  // ---- classifiers ------------------------------------------------------------------------------

  class Classifier extends CrowdElement {
    static multi = false;
    static image = false;

    build() {
      const multi = this.constructor.multi;
      const header = this.getAttribute("header") || "";
      this._categories = parseList(this.getAttribute("categories")).map(String);
      const exclusion = multi ? parseExclusion(this.getAttribute("exclusion-category")) : null;
      this._exclusion = exclusion;
      if (exclusion) this._categories.push(exclusion);
      this._selected = new Set();
      const target = this.constructor.image ? null : takeRegion(this, "classification-target");

      const main = h("section", { className: "crowd-main" });
      if (header) main.append(h("h2", { className: "crowd-header", text: header }));
      if (this.constructor.image) {
        const img = imageBlock(this, header);
        img.title = "Click or press z to zoom";
        img.addEventListener("click", () => toggleZoom(img));
        this._image = img;
        main.append(h("div", { className: "crowd-image-wrap" }, img));
      } else if (target) {
        main.append(moveChildren(target, h("div", { className: "crowd-target" })));
      }

      const side = h("section", { className: "crowd-side" });
      side.append(
        h("h3", { className: "crowd-side-title", text: multi ? "Select all that apply" : "Categories" }),
      );
      const list = h("div", {
        className: "crowd-options",
        role: multi ? "group" : "radiogroup",
        "aria-label": header || "Categories",
      });
      this._buttons = this._categories.map((category, i) => {
        const button = h("button", {
          type: "button",
          className: "crowd-option",
          role: multi ? "checkbox" : "radio",
          "aria-checked": "false",
          "data-crowd-option": "",
          "data-category": category,
        });
        if (i < 9) button.append(h("kbd", { text: String(i + 1) }));
        button.append(h("span", { text: category }));
        button.addEventListener("click", () => this.pick(i));
        list.append(button);
        return button;
      });
      side.append(list);
      this._comment = buildTaskFrame(this, main, side);
    }

    /** Selects (or, in multi-select, toggles) the i-th category. */
    pick(i) {
      if (!this._categories) return;
      const category = this._categories[i];
      if (category === undefined) return;
      const multi = this.constructor.multi;
      if (!multi) this._selected = new Set([i]);
      else if (this._selected.has(i)) this._selected.delete(i);
      else if (category === this._exclusion) this._selected = new Set([i]);
      else {
        this._selected.add(i);
        this._selected.delete(this._categories.indexOf(this._exclusion));
      }
      this._buttons.forEach((button, j) => {
        const on = this._selected.has(j);
        button.setAttribute("aria-checked", String(on));
        button.classList.toggle("crowd-selected", on);
      });
      this._buttons[i]?.focus({ preventScroll: true });
      showError(this, "");
    }

    crowdValidate() {
      if (this._selected.size > 0) return null;
      return this.constructor.multi ? "Choose at least one category." : "Choose a category.";
    }

    crowdValue() {
      if (!this._selected || this._selected.size === 0) return undefined;
      const labels = [...this._selected].sort((a, b) => a - b).map((i) => this._categories[i]);
      const value = this.constructor.multi ? { labels } : { label: labels[0] };
      const comment = this._comment?.value.trim();
      if (comment) value.workerComment = comment;
      return value;
    }
  }

  class ImageClassifier extends Classifier {
    static image = true;
  }
  class ImageClassifierMulti extends Classifier {
    static image = true;
    static multi = true;
  }
  class TextClassifier extends Classifier {}
  class TextClassifierMulti extends Classifier {
    static multi = true;
  }

  // ---- bounding box -----------------------------------------------------------------------------

  class BoundingBox extends CrowdElement {
    build() {
      const header = this.getAttribute("header") || "";
      this._labels = parseList(this.getAttribute("labels")).map(String);
      const initial = parseJson(this.getAttribute("initial-value"), []);
      this._boxes = (Array.isArray(initial) ? initial : [])
        .filter((b) => b && typeof b === "object")
        .map((b) => ({
          label: String(b.label),
          left: Math.round(Number(b.left) || 0),
          top: Math.round(Number(b.top) || 0),
          width: Math.round(Number(b.width) || 0),
          height: Math.round(Number(b.height) || 0),
        }));
      this._current = 0;

      const main = h("section", { className: "crowd-main" });
      if (header) main.append(h("h2", { className: "crowd-header", text: header }));
      const img = imageBlock(this, header);
      this._image = img;
      const stage = h("div", { className: "crowd-bbox-stage" }, img);
      this._layer = h("div", { className: "crowd-bbox-layer", "data-crowd-bbox-layer": "" });
      stage.append(this._layer);
      main.append(h("div", { className: "crowd-image-wrap" }, stage));
      img.addEventListener("load", () => this.renderBoxes());

      const side = h("section", { className: "crowd-side" });
      side.append(h("h3", { className: "crowd-side-title", text: "Label" }));
      const list = h("div", { className: "crowd-options", role: "radiogroup", "aria-label": "Box label" });
      this._labelButtons = this._labels.map((label, i) => {
        const button = h("button", {
          type: "button",
          className: "crowd-option",
          role: "radio",
          "aria-checked": String(i === 0),
          "data-crowd-option": "",
        });
        if (i < 9) button.append(h("kbd", { text: String(i + 1) }));
        button.append(h("span", { text: label }));
        button.addEventListener("click", () => this.pick(i));
        list.append(button);
        return button;
      });
      this._labelButtons[0]?.classList.add("crowd-selected");
      this._list = h("ol", { className: "crowd-bbox-list" });
      side.append(list, h("h3", { className: "crowd-side-title", text: "Boxes" }), this._list);
      this._comment = buildTaskFrame(this, main, side);
      this.attachDrawing(stage);
      this.renderBoxes();
    }

    pick(i) {
      if (!this._labels || this._labels[i] === undefined) return;
      this._current = i;
      this._labelButtons.forEach((b, j) => {
        b.setAttribute("aria-checked", String(i === j));
        b.classList.toggle("crowd-selected", i === j);
      });
    }

    /** Pointer position in the image's own pixels. */
    toPixels(event) {
      const rect = this._image.getBoundingClientRect();
      const sx = this._image.naturalWidth / rect.width;
      const sy = this._image.naturalHeight / rect.height;
      const clamp = (v, max) => Math.min(Math.max(v, 0), max);
      return {
        x: clamp((event.clientX - rect.left) * sx, this._image.naturalWidth),
        y: clamp((event.clientY - rect.top) * sy, this._image.naturalHeight),
      };
    }

    attachDrawing(stage) {
      let start = null;
      let draft = null;
      stage.addEventListener("pointerdown", (event) => {
        if (!this._image.naturalWidth || this._labels.length === 0 || event.button !== 0) return;
        event.preventDefault();
        stage.setPointerCapture(event.pointerId);
        start = this.toPixels(event);
        draft = h("div", { className: "crowd-bbox crowd-bbox-draft" });
        this._layer.append(draft);
      });
      stage.addEventListener("pointermove", (event) => {
        if (!start || !draft) return;
        this.place(draft, this.boxFrom(start, this.toPixels(event)));
      });
      stage.addEventListener("pointerup", (event) => {
        if (!start) return;
        const box = this.boxFrom(start, this.toPixels(event));
        start = null;
        draft?.remove();
        draft = null;
        if (box.width >= 2 && box.height >= 2) {
          this._boxes.push(box);
          this._modified = true;
          this.renderBoxes();
          showError(this, "");
        }
      });
    }

    boxFrom(a, b) {
      const left = Math.round(Math.min(a.x, b.x));
      const top = Math.round(Math.min(a.y, b.y));
      return {
        label: this._labels[this._current],
        left,
        top,
        width: Math.round(Math.max(a.x, b.x)) - left,
        height: Math.round(Math.max(a.y, b.y)) - top,
      };
    }

    place(node, box) {
      const w = this._image.naturalWidth || 1;
      const hgt = this._image.naturalHeight || 1;
      node.style.left = `${(box.left / w) * 100}%`;
      node.style.top = `${(box.top / hgt) * 100}%`;
      node.style.width = `${(box.width / w) * 100}%`;
      node.style.height = `${(box.height / hgt) * 100}%`;
    }

    renderBoxes() {
      this._layer.replaceChildren();
      this._list.replaceChildren();
      this._boxes.forEach((box, i) => {
        const node = h(
          "div",
          { className: "crowd-bbox" },
          h("span", { className: "crowd-bbox-tag", text: box.label }),
        );
        this.place(node, box);
        this._layer.append(node);
        const remove = h("button", { type: "button", className: "crowd-link", text: "Remove" });
        remove.addEventListener("click", () => {
          this._boxes.splice(i, 1);
          this._modified = true;
          this.renderBoxes();
        });
        this._list.append(
          h(
            "li",
            {},
            h("span", { text: `${box.label} — ${box.width}×${box.height} at ${box.left},${box.top}` }),
            remove,
          ),
        );
      });
    }

    crowdValidate() {
      if (!this._image.naturalWidth) return "Wait for the image to load.";
      return null;
    }

    crowdValue() {
      if (!this._image.naturalWidth) return undefined;
      return {
        boundingBoxes: this._boxes.map(({ label, left, top, width, height }) => ({
          label,
          left,
          top,
          width,
          height,
        })),
        inputImageProperties: { height: this._image.naturalHeight, width: this._image.naturalWidth },
      };
    }
  }

  // ---- simple inputs ----------------------------------------------------------------------------

  class CrowdInput extends CrowdElement {
    control() {
      return h("input", { type: this.getAttribute("type") || "text" });
    }
    build() {
      const control = this.control();
      const label = this.getAttribute("label");
      for (const [attr, prop] of [
        ["placeholder", "placeholder"],
        ["max-length", "maxLength"],
        ["min-length", "minLength"],
        ["rows", "rows"],
      ]) {
        if (this.hasAttribute(attr)) control[prop] = this.getAttribute(attr);
      }
      control.value = this.getAttribute("value") || "";
      control.disabled = this.hasAttribute("disabled");
      control.required = this.hasAttribute("required");
      control.className = "crowd-control";
      moveChildren(this, document.createDocumentFragment());
      const wrap = h("label", { className: "crowd-field" });
      if (label) wrap.append(h("span", { className: "crowd-field-label", text: label }));
      wrap.append(control);
      if (this.hasAttribute("char-counter") && this.hasAttribute("max-length")) {
        const counter = h("span", { className: "crowd-counter" });
        const update = () => {
          counter.textContent = `${control.value.length}/${this.getAttribute("max-length")}`;
        };
        control.addEventListener("input", update);
        update();
        wrap.append(counter);
      }
      this.append(wrap);
      this._control = control;
      if (this.hasAttribute("auto-focus")) control.focus();
    }
    crowdValidate() {
      const value = this._control.value;
      const fail = (fallback) => this.getAttribute("error-message") || fallback;
      if (this._control.required && value === "") return fail("This field is required.");
      const min = Number(this.getAttribute("min-length"));
      if (value !== "" && min && value.length < min) return fail(`Enter at least ${min} characters.`);
      return null;
    }
    crowdValue() {
      if (this._control.disabled) return undefined;
      return this._control.value === "" ? undefined : this._control.value;
    }
  }

  class CrowdTextArea extends CrowdInput {
    control() {
      return h("textarea", { rows: this.getAttribute("rows") || 3 });
    }
  }

  /** crowd-checkbox and crowd-radio-button: `{"<name>": {"<value>": bool}}`, merged by name. */
  class CrowdToggle extends CrowdElement {
    inputType() {
      return "checkbox";
    }
    build() {
      const control = h("input", { type: this.inputType(), "data-crowd-internal": "" });
      const group = this.closest("crowd-radio-group");
      if (this.inputType() === "radio") {
        if (group && !group._crowdGroupName)
          group._crowdGroupName = `crowd-radio-${Math.random().toString(36).slice(2)}`;
        control.name = group?._crowdGroupName || `crowd-radio-${this.getAttribute("name")}`;
      }
      control.checked = this.hasAttribute("checked");
      control.disabled = this.hasAttribute("disabled");
      control.required = this.hasAttribute("required");
      const text = moveChildren(this, h("span", { className: "crowd-toggle-text" }));
      this.append(h("label", { className: "crowd-toggle" }, control, text));
      this._control = control;
    }
    crowdMerge() {
      return true;
    }
    crowdValidate() {
      if (this._control.required && !this._control.checked) return "Check this box to continue.";
      return null;
    }
    crowdValue() {
      return { [this.getAttribute("value") || "on"]: this._control.checked };
    }
  }

  class CrowdRadioButton extends CrowdToggle {
    inputType() {
      return "radio";
    }
  }

  class CrowdRadioGroup extends CrowdElement {
    build() {
      this.setAttribute("role", "radiogroup");
    }
  }

  // ---- buttons and the form ---------------------------------------------------------------------

  class CrowdButton extends CrowdElement {
    build() {
      const variant = this.getAttribute("variant") || "normal";
      const button = h("button", { type: "button", className: `crowd-btn crowd-btn-${variant}` });
      moveChildren(this, button);
      if (!button.textContent.trim()) button.textContent = "Submit";
      button.disabled = this.hasAttribute("disabled");
      this.append(button);
      this._button = button;
      button.addEventListener("click", () => {
        if (this.getAttribute("form-action") === "submit") this.closest("crowd-form")?.submit();
      });
    }
  }

  function isField(node) {
    return typeof node.crowdValue === "function" && node._crowdBuilt;
  }

  /** Collects every named element's value into one answerContent object. */
  function collect(root) {
    const out = {};
    const merge = (name, value) => {
      if (out[name] && typeof out[name] === "object" && typeof value === "object")
        Object.assign(out[name], value);
      else out[name] = value;
    };
    for (const node of root.querySelectorAll("*")) {
      const name = node.getAttribute("name");
      if (!name) continue;
      if (isField(node)) {
        const value = node.crowdValue();
        if (value === undefined) continue;
        if (node.crowdMerge) merge(name, value);
        else out[name] = value;
      } else if (
        /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName) &&
        !node.disabled &&
        !node.hasAttribute("data-crowd-internal")
      ) {
        // Plain form controls a template adds itself (hidden inputs carrying ids, say).
        if (node.type === "checkbox" || node.type === "radio")
          merge(name, { [node.value || "on"]: node.checked });
        else if (node.value !== "") out[name] = node.value;
      }
    }
    return out;
  }

  class CrowdForm extends CrowdElement {
    build() {
      if (!this.querySelector('crowd-button[form-action="submit"]')) {
        const button = document.createElement("crowd-button");
        button.setAttribute("form-action", "submit");
        button.setAttribute("variant", "primary");
        button.append("Submit", h("kbd", { text: "Enter" }));
        this.append(h("div", { className: "crowd-form-actions" }, button));
      }
      this._status = h("p", { className: "crowd-form-status", role: "status", "aria-live": "polite" });
      this.append(this._status);
    }

    /** The answer a submit would produce right now. */
    get answerContent() {
      return collect(this);
    }

    setStatus(message, kind) {
      this._status.textContent = message;
      this._status.dataset.kind = kind || "";
    }

    async submit() {
      if (this._busy) return;
      for (const node of this.querySelectorAll("*")) {
        if (!isField(node) || typeof node.crowdValidate !== "function") continue;
        const problem = node.crowdValidate();
        if (problem) {
          showError(node, problem);
          this.setStatus(problem, "error");
          (node.querySelector("button, input, textarea") || node).focus?.();
          return;
        }
      }
      // Templates hook validation onto the form's submit event, as on A2I.
      if (!this.dispatchEvent(new Event("submit", { cancelable: true }))) return;
      const answer = collect(this);
      if (isPreview()) {
        window.parent.postMessage({ type: "secondlook-crowd-answer", answerContent: answer }, "*");
        this.setStatus("Preview: the answer is shown next to the template.", "ok");
        return;
      }
      const url = meta("crowd-submit-url");
      if (!url) {
        this.setStatus("This page has nowhere to send the answer.", "error");
        return;
      }
      this._busy = true;
      this.setStatus("Submitting…", "busy");
      try {
        const response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json", "x-csrf-token": meta("csrf-token") || "" },
          body: JSON.stringify(answer),
        });
        const body = await response.json().catch(() => ({}));
        if (response.ok && typeof body.next === "string" && body.next.startsWith("/")) {
          this.setStatus("Saved.", "ok");
          window.location.assign(body.next);
          return;
        }
        this.setStatus(body.message || `The answer was not accepted (HTTP ${response.status}).`, "error");
        if (response.status === 409 || response.status === 401) {
          // The task is gone (expired, closed) or the session ended: retrying cannot help.
          const back = h("a", {
            href: response.status === 401 ? "/sign-in" : "/",
            text: "Back to the queue",
          });
          this._status.append(" ", back);
        }
      } catch {
        this.setStatus("Could not reach the portal. Your answer is still here; try again.", "error");
      }
      this._busy = false;
    }
  }

  // ---- keyboard ---------------------------------------------------------------------------------

  const PICKERS =
    "crowd-image-classifier, crowd-image-classifier-multi-select, crowd-classifier, crowd-classifier-multi-select, crowd-bounding-box";

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && zoomLayer) {
      toggleZoom();
      return;
    }
    const target = event.target;
    const typing =
      target instanceof HTMLElement &&
      (target.isContentEditable ||
        target.tagName === "TEXTAREA" ||
        target.tagName === "SELECT" ||
        (target.tagName === "INPUT" && !/^(checkbox|radio|button|submit)$/.test(target.type)));
    const form = document.querySelector("crowd-form");
    if (typing) {
      if (event.key === "Enter" && target.tagName === "INPUT" && form) {
        event.preventDefault();
        form.submit();
      }
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      const pickers = document.querySelectorAll(PICKERS);
      if (pickers.length === 1 && pickers[0].pick) {
        event.preventDefault();
        pickers[0].pick(Number(event.key) - 1);
      }
    } else if (event.key === "Enter") {
      const isOtherButton =
        target instanceof HTMLElement &&
        target.closest("button, a, summary") &&
        !target.closest("[data-crowd-option]");
      if (isOtherButton || !form || document.querySelector("dialog[open]")) return;
      event.preventDefault();
      form.submit();
    } else if (event.key === "z") {
      const img = document.querySelector(
        "crowd-image-classifier .crowd-image, crowd-image-classifier-multi-select .crowd-image",
      );
      if (img || zoomLayer) {
        event.preventDefault();
        toggleZoom(img);
      }
    } else if (event.key === "i") {
      const host = Array.from(document.querySelectorAll(PICKERS)).find((n) => n._crowdFullInstructions);
      if (host) {
        event.preventDefault();
        host._crowdFullInstructions.showModal();
      }
    }
  });

  const definitions = {
    "crowd-form": CrowdForm,
    "crowd-button": CrowdButton,
    "crowd-image-classifier": ImageClassifier,
    "crowd-image-classifier-multi-select": ImageClassifierMulti,
    "crowd-classifier": TextClassifier,
    "crowd-classifier-multi-select": TextClassifierMulti,
    "crowd-bounding-box": BoundingBox,
    "crowd-input": CrowdInput,
    "crowd-text-area": CrowdTextArea,
    "crowd-checkbox": CrowdToggle,
    "crowd-radio-button": CrowdRadioButton,
    "crowd-radio-group": CrowdRadioGroup,
  };
  for (const [name, ctor] of Object.entries(definitions)) {
    if (!customElements.get(name)) customElements.define(name, ctor);
  }
  // Exposed for template authors' scripts and tests.
  window.crowdElements = { parseList, parseExclusion, collect };
})();
