"""scripts/results-tables: docs/RESULTS.md's headroom and agents tables from nbv eval's CSV files.

The evaluation folders here are written by hand in nbv eval's column layout, with figures whose
rounding, signs, intervals and headroom shares are worked out below by hand."""
import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "results-tables"

RESULTS = ["protocol", "initial_views", "policy", "episodes", "split", "coverage_auc", "coverage_auc_ci95",
           "final_coverage", "final_coverage_ci95", "final_chamfer", "final_chamfer_ci95", "f_score",
           "f_score_ci95", "return", "return_ci95", "coverage_auc_vs_uniform", "coverage_auc_vs_uniform_ci95",
           "headroom_closed"]
COMPARISONS = ["protocol", "initial_views", "policy", "category", "episodes", "coverage_auc_vs_uniform",
               "coverage_auc_vs_uniform_ci95", "final_coverage_vs_uniform", "final_coverage_vs_uniform_ci95",
               "headroom_closed", "is_oracle"]


def write(folder, results, comparisons, headings):
    folder.mkdir()
    for name, columns, rows in (("results.csv", RESULTS, results), ("comparisons.csv", COMPARISONS, comparisons)):
        with open(folder / name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
    (folder / "results.md").write_text("# Evaluation\n\n" + "".join(f"### {h}\n\n" for h in headings))


def result(protocol, policy, auc, ci, chamfer, delta="", delta_ci=""):
    return dict(protocol=protocol, initial_views=1, policy=policy, episodes=400, split="test", coverage_auc=auc,
                coverage_auc_ci95=ci, final_chamfer=chamfer, coverage_auc_vs_uniform=delta,
                coverage_auc_vs_uniform_ci95=delta_ci)


def comparison(protocol, policy, category, episodes, delta, ci):
    return dict(protocol=protocol, initial_views=1, policy=policy, category=category, episodes=episodes,
                coverage_auc_vs_uniform=delta, coverage_auc_vs_uniform_ci95=ci)


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_agents_table_rounds_signs_intervals_and_headroom_shares(tmp_path):
    folder = tmp_path / "agents"
    write(folder, [
        result("table-few-views", "random", 0.54449, 0.00912, 0.004536, -0.08832, 0.00671),
        result("table-few-views", "uniform", 0.63281, 0.00942, 0.0014446),
        result("table-few-views", "coverage-oracle", 0.67031, 0.00771, 0.0012700, 0.0375, 0.00334),
        result("table-few-views", "agent-a", 0.64330, 0.00860, 0.0013700, 0.0105, 0.00333),
        result("table-few-views", "agent-b", 0.63200, 0.00800, 0.0014100, -0.0010, 0.0041),
    ], [], ["table-few-views: budget 4 views, 1 initial, elevation >= 10 degrees"])
    out = tmp_path / "tables.md"
    done = run("--agents", str(folder), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = {line.split(" | ")[0].lstrip("| "): line for line in done.stdout.splitlines() if line.startswith("| ")}
    # 0.0105 / 0.0375 = 28%; -0.08832 / 0.0375 = -235.52% -> -236%; the interval is Δ ± CI.
    assert rows["agent-a"] == ("| agent-a | 0.6433 ± 0.0086 | **+0.0105 ± 0.0033** | yes (0.0072 to 0.0138) "
                               "| 28% | 0.00137 |")
    assert rows["random"] == ("| random | 0.5445 ± 0.0091 | -0.0883 ± 0.0067 | yes, below (-0.0950 to -0.0816) "
                              "| -236% | 0.00454 |")
    assert rows["agent-b"].split(" | ")[2:5] == ["-0.0010 ± 0.0041", "no", "-3%"]
    assert rows["coverage oracle (the headroom)"].split(" | ")[4] == "100%"
    assert rows["uniform"] == "| uniform | 0.6328 ± 0.0094 | - | - | - | 0.00144 |"
    assert out.read_text() == done.stdout


def test_headroom_tables_per_protocol_and_category(tmp_path):
    folder = tmp_path / "headroom"
    results, comparisons = [], []
    for protocol, uniform, headroom in (("p10", 0.85051, 0.02891), ("few-views", 0.68330, 0.00500)):
        results.append(result(protocol, "uniform", uniform, 0.0267, 0.001))
        for policy, delta in (("random", -0.0826), ("coverage-oracle", headroom), ("chamfer-oracle", 0.0222)):
            results.append(result(protocol, policy, uniform + delta, 0.02, 0.001, delta, 0.0091))
            comparisons.append(comparison(protocol, policy, "all", 30, delta, 0.0091))
        comparisons.append(comparison(protocol, "coverage-oracle", "cup", 6, 0.089, 0.038))
    write(folder, results, comparisons, ["p10: budget 10 views, 1 initial, the definition's camera band",
                                         "few-views: budget 4 views, 1 initial, the definition's camera band"])
    done = run("--headroom", f"objects-v0={folder}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert ("| p10 | 10 | 0.8505 ± 0.0267 | -0.0826 ± 0.0091 | +0.0222 ± 0.0091 | **+0.0289 ± 0.0091** | yes |"
            in lines)
    # 0.005 - 0.0091 < 0 < 0.005 + 0.0091: the CI does not exclude 0.
    assert ("| few-views | 4 | 0.6833 ± 0.0267 | -0.0826 ± 0.0091 | +0.0222 ± 0.0091 | **+0.0050 ± 0.0091** | no |"
            in lines)
    assert "| cup (6) | +0.0890 ± 0.0380 | +0.0890 ± 0.0380 |" in lines


def test_bad_arguments_are_named(tmp_path):
    done = run("--headroom", "no-equals-sign")
    assert done.returncode != 0 and "expected NAME=DIR" in done.stderr
    done = run()
    assert done.returncode != 0 and "--headroom NAME=DIR or --agents DIR" in done.stderr
    folder = tmp_path / "no-oracle"
    write(folder, [result("table-few-views", "uniform", 0.6, 0.01, 0.001)], [], [])
    done = run("--agents", str(folder))
    assert done.returncode != 0 and "no coverage-oracle row" in done.stderr
