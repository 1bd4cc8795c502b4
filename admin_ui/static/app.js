// es-rag admin UI: live playground controls, judgments without reload, job progress polling.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function livePlayground() {
  const form = document.getElementById("playground-form");
  if (!form) return;
  const submit = debounce(() => {
    if (form.elements.q && form.elements.q.value.trim()) form.requestSubmit();
  }, 600);
  form.querySelectorAll(".controls input, .controls textarea").forEach((el) => {
    el.addEventListener("change", submit);
  });
}

function judgments() {
  const judgeForm = document.getElementById("judge-form");
  if (!judgeForm) return;
  document.querySelectorAll(".judge-btn").forEach((button) => {
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const [grade, doc] = [button.value.split("|")[0], button.value.slice(button.value.indexOf("|") + 1)];
      const alreadyOn = button.classList.contains("on");
      const data = new FormData(judgeForm);
      data.set("doc_id", doc);
      data.set("grade", alreadyOn ? "" : grade);
      const response = await fetch(judgeForm.action, {
        method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin",
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ error: response.statusText }));
        alert("Judgment not saved: " + body.error);
        return;
      }
      document.querySelectorAll(".hit").forEach((hit) => {
        if (hit.dataset.doc !== doc) return;
        hit.querySelectorAll(".judge-btn").forEach((b) => {
          b.classList.toggle("on", !alreadyOn && b.value.split("|")[0] === grade);
        });
      });
    });
  });
}

function pollJobs() {
  document.querySelectorAll(".job[data-job-url]").forEach((box) => {
    if (box.dataset.state !== "running") return;
    const bar = box.querySelector("progress");
    const line = box.querySelector(".job-line");
    const tick = async () => {
      const response = await fetch(box.dataset.jobUrl, { headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const job = await response.json();
      line.textContent = job.line;
      if (job.percent === null) bar.removeAttribute("value"); else bar.value = job.percent;
      box.className = "job " + job.state;
      if (job.state === "running") setTimeout(tick, 700);
      else setTimeout(() => window.location.reload(), 400);
    };
    setTimeout(tick, 300);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  livePlayground();
  judgments();
  pollJobs();
});
