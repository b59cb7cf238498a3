// The dashboard's realtime box: asks the admin for the last 30 minutes every 10 seconds and
// redraws the visitor count and the bars of page views per minute. In a file rather than
// inline: the Content-Security-Policy runs scripts from files only.
const REFRESH_MS = 10000;

function drawMinutes(box, data) {
  const peak = Math.max(0, ...data.perMinute.map((minute) => minute.pageViews));
  // Minutes on the project's clock, as the page prints them.
  const clock = new Intl.DateTimeFormat("en-GB", { timeZone: box.dataset.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const bars = data.perMinute.map((minute) => {
    const bar = document.createElement("span");
    bar.style.height = `${peak ? Math.round((minute.pageViews / peak) * 100) : 0}%`;
    bar.title = `${clock.format(new Date(minute.start))}: ${minute.pageViews} page views`;
    return bar;
  });
  box.querySelector('[data-realtime="minutes"]').replaceChildren(...bars);
  box.querySelector('[data-realtime="visitors"]').textContent = String(data.visitors);
}

async function refresh(box) {
  try {
    const response = await fetch(box.dataset.realtimeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    // Signed out meanwhile (the admin answers with its login page) or refused: keep the last numbers.
    if (response.ok && response.headers.get("Content-Type") === "application/json") {
      drawMinutes(box, await response.json());
    }
  } catch (error) {
    // Offline for a moment: the next refresh tries again.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-realtime-url]");
  if (box) {
    setInterval(() => refresh(box), REFRESH_MS);
  }
});
