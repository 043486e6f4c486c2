"""Stage `tsne`: the joint text–motion space before and after training, side by side.

N (text, motion) pairs of the val split (each clip with its first caption) are encoded by
an untrained model built from the trained model's config and seed, and by the trained one;
t-SNE runs on the concatenation of texts and motions, and grey lines join each pair. Each
panel's title quantifies the alignment in the embedding space itself (t-SNE distances are
not faithful): mean cosine of matching pairs against non-matching pairs, and pair R@1.
"""
from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from textmotion.cli import run_stage
from textmotion.io import atomic_path, check_writable
from textmotion.metrics import pair_alignment
from textmotion.model_io import build_untrained, load_model
from textmotion.params import load_section
from textmotion.retrieval import encode_clips, encode_texts
from textmotion.store import MotionStore


def tsne_2d(text_embeddings: np.ndarray, motion_embeddings: np.ndarray, perplexity: float,
            seed: int) -> tuple[np.ndarray, np.ndarray]:
    """t-SNE of texts and motions together, so both land in one 2-D map."""
    joint = np.concatenate([text_embeddings, motion_embeddings])
    tsne = TSNE(n_components=2, perplexity=min(perplexity, len(joint) - 1), init="pca",
                learning_rate="auto", random_state=seed)
    points = tsne.fit_transform(joint)
    return points[:len(text_embeddings)], points[len(text_embeddings):]


def main() -> None:
    cfg = load_section("tsne")
    check_writable(cfg.out)
    store = MotionStore.open(cfg.val_store)
    n_pairs = min(cfg.n_pairs, len(store))
    texts = [store.captions[i][0] for i in range(n_pairs)]
    trained = load_model(cfg.model_dir)
    untrained = build_untrained(cfg.model_dir)

    fig = Figure(figsize=(14, 6.5), layout="constrained")
    for ax, (name, model) in zip(fig.subplots(1, 2), [("untrained", untrained), ("trained", trained)]):
        text_embeddings = encode_texts(model, texts)
        motion_embeddings = encode_clips(model, n_pairs, store.motion, lambda i: f"{store.root}: clip {store.ids[i]}")
        text_2d, motion_2d = tsne_2d(text_embeddings, motion_embeddings, cfg.perplexity, cfg.seed)
        ax.add_collection(LineCollection(np.stack([text_2d, motion_2d], axis=1),
                                         colors="grey", linewidths=0.6, alpha=0.6, zorder=1))
        ax.scatter(*text_2d.T, s=14, c="tab:blue", label="text", zorder=2)
        ax.scatter(*motion_2d.T, s=14, c="tab:orange", marker="^", label="motion", zorder=2)
        alignment = pair_alignment(text_embeddings, motion_embeddings)
        ax.set_title(f"{name}: cosine of pairs {alignment['pair_cosine']:.3f} vs non-pairs "
                     f"{alignment['non_pair_cosine']:.3f}; pair R@1 {alignment['pair_R@1']:.2f} "
                     f"(of {n_pairs})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="upper right")
    fig.suptitle(f"t-SNE of {n_pairs} val text–motion pairs (grey lines join each pair)")
    with atomic_path(cfg.out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)


if __name__ == "__main__":
    run_stage(main, __doc__)
