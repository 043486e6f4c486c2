// The search page of src/serve.py: a sentence in, the top-k gallery clips out, playing.
import { Stage, showCard } from "player";

const form = document.getElementById("search");
const query = document.getElementById("query");
const k = document.getElementById("k");
const status = document.getElementById("status");
const results = document.getElementById("results");
const stage = new Stage(document.getElementById("stage"));

async function json(response) {
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
}

async function init() {
    const info = await json(await fetch("/api/info"));
    query.maxLength = info.max_query_chars;
    k.max = info.max_k;
    status.textContent = `${info.clips} clips in ${info.gallery} · model ${info.model}`;
}

async function search(event) {
    event.preventDefault();
    results.dataset.state = "searching";
    results.replaceChildren();
    stage.clear();
    try {
        const params = new URLSearchParams({ q: query.value, k: k.value });
        const found = await json(await fetch(`/api/search?${params}`));
        const clips = await Promise.all(found.results.map(async (hit) =>
            json(await fetch(`/api/clips/${encodeURIComponent(hit.id)}`))));
        found.results.forEach((hit, i) => showCard(results, stage, {
            title: `#${hit.rank} · ${hit.id}`,
            caption: hit.caption,
            detail: `cosine ${hit.score.toFixed(3)} · ${(clips[i].frames / clips[i].fps).toFixed(1)} s`,
            clip: clips[i],
        }));
        status.textContent = `${found.results.length} of ${found.gallery_size} clips for “${found.query}”`;
        results.dataset.state = "done";
    } catch (error) {
        status.textContent = `error: ${error.message}`;
        results.dataset.state = "error";
    }
}

form.addEventListener("submit", search);
init().catch((error) => { status.textContent = `error: ${error.message}`; });
