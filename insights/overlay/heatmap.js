/*! heatmap overlay of the analytics service: the SDK imports it when the page's URL
 * fragment holds #analytics-heatmap=<token>, a link from the heatmap page of the admin. */
// A module: no globals, and no inline script or style sheet the page's CSP would refuse
// (styles are set through the CSSOM, which a Content-Security-Policy does not govern).
const SERVICE = new URL(import.meta.url).origin;
const ALPHA = 0.65;
const BAND_ALPHA = 0.35;
const Z = "2147483647";
const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get("analytics-heatmap") || "";

// The token's first part is its claims in base64url JSON (django.core.signing): the project
// to name in the request. Trusting them is harmless; the service checks the signature.
const claims = (() => {
  try {
    return JSON.parse(atob(token.split(":")[0].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
})();

const state = { mode: fragment.get("kind") === "move" ? "move" : "click", days: 7 };
const answers = new Map();
let shown = null;

const element = (tag, style, text) => {
  const node = document.createElement(tag);
  Object.assign(node.style, style);
  if (text) node.textContent = text;
  return node;
};

const canvas = element("canvas", {
  position: "absolute",
  left: "0",
  top: "0",
  pointerEvents: "none",
  zIndex: Z,
});
canvas.id = "analytics-heatmap-overlay";

const host = element("div", { position: "fixed", top: "12px", right: "12px", zIndex: Z });
const bar = host.attachShadow({ mode: "open" });
const panel = element("div", {
  font: "13px/1.4 system-ui, sans-serif",
  color: "#1f2330",
  background: "rgba(255, 255, 255, 0.96)",
  border: "1px solid #c9ccd6",
  borderRadius: "6px",
  boxShadow: "0 2px 10px rgba(0, 0, 0, 0.2)",
  padding: "8px 10px",
  maxWidth: "380px",
});
const row = element("div", { display: "flex", gap: "4px", flexWrap: "wrap", alignItems: "center" });
const status = element("div", { marginTop: "6px" }, "Loading the heatmap…");
const legend = element("div", { height: "8px", marginTop: "6px", borderRadius: "2px" });
panel.append(element("strong", { display: "block", marginBottom: "6px" }, "Heatmap"), row, status, legend);
bar.append(panel);

const buttons = [];
const button = (label, isOn, choose) => {
  const node = element("button", { font: "inherit", padding: "2px 8px", cursor: "pointer" }, label);
  node.type = "button";
  node.addEventListener("click", choose);
  buttons.push([node, isOn]);
  row.append(node);
};
const choose = (change) => () => {
  Object.assign(state, change);
  load();
};
button("Clicks", () => state.mode === "click", choose({ mode: "click" }));
button("Moves", () => state.mode === "move", choose({ mode: "move" }));
button("Scroll", () => state.mode === "scroll", choose({ mode: "scroll" }));
button("7 days", () => state.days === 7, choose({ days: 7 }));
button("30 days", () => state.days === 30, choose({ days: 30 }));
button("Close", () => false, () => {
  canvas.remove();
  host.remove();
  removeEventListener("resize", draw);
});

const colour = (palette, fraction) => {
  // As insights/heatmap_png.py: a square-root scale, so quiet areas show next to a hot one.
  const position = Math.sqrt(Math.min(1, Math.max(0, fraction))) * (palette.length - 1);
  const low = Math.min(Math.floor(position), palette.length - 2);
  const mix = position - low;
  const [r, g, b] = palette[low].map((value, i) => Math.round(value + (palette[low + 1][i] - value) * mix));
  return `rgb(${r}, ${g}, ${b})`;
};

const pageHeight = () => {
  canvas.height = 0; // not counted in the page's own height
  return Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight || 0);
};

function draw() {
  for (const [node, isOn] of buttons) node.style.fontWeight = isOn() ? "bold" : "normal";
  if (!shown) return;
  // Positions are in units of 1/referenceWidth of the viewport's width, innerWidth as the SDK
  // sends it with pageX and pageY; nothing is binned deeper than maxDepth.
  const scale = innerWidth / shown.referenceWidth;
  const height = Math.min(pageHeight(), Math.ceil(shown.maxDepth * scale));
  canvas.width = document.documentElement.clientWidth;
  canvas.height = height;
  Object.assign(canvas.style, { width: `${canvas.width}px`, height: `${height}px` });
  const context = canvas.getContext("2d");
  const { palette } = shown;
  legend.style.background = `linear-gradient(to right, ${palette.map((stop) => `rgb(${stop})`).join(", ")})`;
  if (state.mode === "scroll") {
    const { sessions, steps } = shown.scrollDepth;
    context.globalAlpha = BAND_ALPHA;
    let top = 0;
    for (const step of steps) {
      const bottom = step.depth * scale;
      context.fillStyle = colour(palette, step.share);
      context.fillRect(0, top, canvas.width, bottom - top);
      top = bottom;
    }
    context.fillStyle = colour(palette, 0);
    context.fillRect(0, top, canvas.width, height - top);
    context.globalAlpha = 1;
    context.font = "bold 12px system-ui, sans-serif";
    for (const step of steps) {
      const y = step.depth * scale;
      context.fillStyle = "#1f2330";
      context.fillRect(0, y - 1, canvas.width, 1);
      context.fillText(`${Math.round(step.share * 100)} % of sessions saw this far`, 8, y - 5);
    }
    const noun = sessions === 1 ? "session" : "sessions";
    status.textContent = `Scroll depth of ${sessions} ${noun}, last ${state.days} days.`;
  } else {
    const { bins, maxCount, cellSize, samples } = shown;
    const cell = cellSize * scale;
    context.globalAlpha = ALPHA;
    for (const [column, row, count] of bins) {
      context.fillStyle = colour(palette, count / maxCount);
      context.fillRect(column * cell, row * cell, cell, cell);
    }
    const noun = state.mode === "click" ? "clicks" : "moves";
    status.textContent = `${samples} ${noun}, busiest cell ${maxCount}, last ${state.days} days.`;
  }
  canvas.dataset.state = "drawn";
}

const wanted = () => `${state.mode === "move" ? "move" : "click"} ${state.days}`;

const fail = (message) => {
  shown = null;
  canvas.height = 0;
  canvas.dataset.state = "error";
  status.textContent = message;
};

async function load() {
  draw();
  // Scroll depth comes with every answer: the clicks' answer serves it.
  const key = wanted();
  const kind = key.split(" ")[0];
  if (!answers.has(key)) {
    status.textContent = "Loading the heatmap…";
    const body = JSON.stringify({ token, project: claims.project, path: location.pathname, kind, days: state.days });
    let response;
    try {
      response = await fetch(`${SERVICE}/overlay/heatmap`, { method: "POST", body, credentials: "omit" });
    } catch {
      return fail("The heatmap could not be loaded: is this page's origin one of the project's origins?");
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) return fail(answer?.error?.message || `The heatmap could not be loaded (${response.status}).`);
    answers.set(key, answer);
  }
  if (key !== wanted()) return; // chosen again meanwhile: that load draws
  shown = answers.get(key);
  draw();
}

document.documentElement.append(canvas, host);
addEventListener("resize", draw);
// Images and fonts that arrive later change the page's height.
if (document.readyState !== "complete") addEventListener("load", draw);
load();
