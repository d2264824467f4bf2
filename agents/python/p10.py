"""The P10 evaluation protocol of docs/EVALUATION.md over the wire: 1 random initial view + 9 chosen views
(budget 10); reports final coverage, coverage AUC, final Chamfer distance and F-score as mean and 95%
confidence interval over episodes. Shared by the example agents."""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np

#: Info keys looked up for each reported metric (the first one present wins).
METRIC_KEYS = {
    "coverage": ("coverage", "coverage_after"),
    "chamfer": ("chamfer_after", "chamfer", "cd_after"),
    "fscore": ("fscore", "f_score", "fscore_after"),
}


def _metric(info: Mapping, names) -> Optional[float]:
    for name in names:
        value = info.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def mean_ci95(values: List[float]) -> str:
    if not values:
        return "n/a"
    mean = float(np.mean(values))
    half = 1.96 * float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{mean:.4f} ± {half:.4f}"


def evaluate_p10(env, policy: Callable[[Dict[str, np.ndarray]], np.ndarray], episodes: int = 10,
                 first_seed: int = 10_000) -> Dict[str, str]:
    """Runs `episodes` P10 episodes (seeds first_seed...) with `policy(observation) -> action`; prints
    and returns the table."""
    results: Dict[str, List[float]] = {"return": [], "coverage": [], "coverage_auc": [], "chamfer": [], "fscore": []}
    for episode in range(episodes):
        obs, info = env.reset(seed=first_seed + episode, options={"initial_views": 1})
        total, coverages, done = 0.0, [], False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += reward
            done = terminated or truncated
            coverage = _metric(info, METRIC_KEYS["coverage"])
            if coverage is not None:
                coverages.append(coverage)
        results["return"].append(total)
        for name in ("coverage", "chamfer", "fscore"):
            value = _metric(info, METRIC_KEYS[name])
            if value is not None:
                results[name].append(value)
        if coverages:
            results["coverage_auc"].append(float(np.mean(coverages)))
    table = {name: mean_ci95(values) for name, values in results.items()}
    print(f"P10 over {episodes} episodes (seeds {first_seed}..{first_seed + episodes - 1}), mean ± 95% CI:")
    for name, text in table.items():
        print(f"  {name:>13}: {text}")
    return table
