// es-rag admin UI: the playground's answer panel, streamed from /playground/answer (Server-Sent Events).
"use strict";

function answerPanel() {
  const panel = document.getElementById("answer-panel");
  if (!panel) return;
  const text = document.getElementById("answer-text");
  const list = document.getElementById("answer-citations");
  const meta = document.getElementById("answer-meta");
  const source = new EventSource(panel.dataset.answerUrl);
  let started = false;
  const data = (event) => JSON.parse(event.data);
  source.addEventListener("token", (event) => {
    if (!started) { text.textContent = ""; started = true; }
    text.textContent += data(event).text;
  });
  source.addEventListener("citations", (event) => {
    list.replaceChildren();
    for (const c of data(event).citations) {
      const item = document.createElement("li");
      item.value = c.n;
      item.className = "citation";
      const title = document.createElement("strong");
      title.textContent = c.title || c.source || c.chunk_id;
      const where = document.createElement("span");
      where.className = "muted small";
      where.textContent = " " + (c.source || "") + (c.page ? " · p. " + c.page : "");
      const quote = document.createElement("blockquote");
      quote.textContent = c.quote;
      item.append(title, where, quote);
      list.append(item);
    }
  });
  source.addEventListener("done", (event) => {
    const done = data(event);
    text.textContent = done.answer;
    const cached = done.retrieval && done.retrieval.cache === "hit" ? " · from the answer cache" : "";
    const kind = done.extractive && done.provider !== "extractive" ? " (extractive)" : "";
    meta.textContent = done.provider + kind + " · " +
      Math.round(done.timings.total_ms || 0) + " ms" + cached;
    panel.classList.add("answered");
  });
  source.addEventListener("logged", (event) => {
    const link = document.createElement("a");
    link.href = data(event).url;
    link.id = "answer-trace-link";
    link.textContent = "Why did it say that? (trace)";
    meta.append(" · ", link);
  });
  source.addEventListener("error", (event) => {
    source.close();
    if (!event.data && panel.classList.contains("answered")) return;
    // an error event of the server carries its reason; a dropped connection carries none
    const error = event.data ? data(event).error || {} : { reason: "the connection to the server was lost" };
    text.textContent = "";
    const box = document.createElement("div");
    box.className = "flash error";
    box.textContent = "No answer: " + (error.reason || "the answer failed");
    text.append(box);
  });
  // the last event: closing stops EventSource from reconnecting (and asking again)
  source.addEventListener("end", () => source.close());
}

document.addEventListener("DOMContentLoaded", answerPanel);
