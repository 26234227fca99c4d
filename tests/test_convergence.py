"""Learning curves of every history.csv shape and the plateau verdict, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from asdlab.analysis import convergence_summary, convergence_table, learning_curves, plateau
from asdlab.core.errors import AsdlabError, ConfigError
from asdlab.viz.teaching import history_figure, load_history

NAN = float("nan")


# --- plateau ----------------------------------------------------------------------------------

def test_plateau_converged_and_still_improving_by_hand():
    # n=8, q=ceil(2)=2: best of first 6 = 2.47, best of last 2 = 2.46 -> 0.01 / 2.47 = 0.405 %
    p = plateau([4, 3, 2.5, 2.5, 2.49, 2.47, 2.48, 2.46])
    assert (p["n"], p["q"], p["best_before"], p["best_tail"]) == (8, 2, 2.47, 2.46)
    assert p["improvement"] == pytest.approx(0.01 / 2.47) and p["verdict"] == "converged"
    # n=5, q=ceil(1.25)=2: best of [5, 4, 3.5] = 3.5, of [3.4, 3.39] = 3.39 -> 3.14 % > 2 %
    p = plateau([5, 4, 3.5, 3.4, 3.39])
    assert p["q"] == 2 and p["improvement"] == pytest.approx(0.11 / 3.5) and p["verdict"] == "still improving"
    # the same curve with a 5 % tolerance has converged
    assert plateau([5, 4, 3.5, 3.4, 3.39], tol=0.05)["verdict"] == "converged"
    # exactly at the tolerance counts as converged: (1 - 0.98) / 1 = 0.02
    assert plateau([3, 2, 1, 0.98], tol=0.02 + 1e-12)["verdict"] == "converged"


def test_plateau_tail_worse_than_before_is_converged_with_negative_improvement():
    p = plateau([6, 5, 4, 4.1, 4.2, 4.3])  # q=2: 4.0 before, 4.2 in the tail -> -5 %
    assert p["improvement"] == pytest.approx(-0.05) and p["verdict"] == "converged"


def test_plateau_negative_losses_divide_by_the_absolute_best():
    p = plateau([-1, -2, -3, -3.03])  # (-3 - -3.03) / |-3| = +1 %
    assert p["improvement"] == pytest.approx(0.01) and p["verdict"] == "converged"
    p = plateau([-1, -2, -3, -4])  # (-3 - -4) / 3 = +33 %: still falling
    assert p["improvement"] == pytest.approx(1 / 3) and p["verdict"] == "still improving"


def test_plateau_zero_best_before():
    assert plateau([1, 0, 0, 0])["improvement"] == 0.0
    p = plateau([1, 0, 0, -0.5])
    assert p["improvement"] == math.inf and p["verdict"] == "still improving"


@pytest.mark.parametrize("losses, q, improvement", [([], 0, NAN), ([3.0], 0, NAN), ([3.0, 2.0], 1, 1 / 3),
                                                    ([3.0, 2.0, 1.5], 1, 0.25)])
def test_plateau_under_four_epochs_is_too_short(losses, q, improvement):
    p = plateau(losses)
    assert p["n"] == len(losses) and p["q"] == q and p["verdict"] == "too short"
    if math.isnan(improvement):
        assert math.isnan(p["improvement"]) and math.isnan(p["best_before"])
    else:
        assert p["improvement"] == pytest.approx(improvement)


def test_plateau_drops_nan_epochs_and_keeps_one_epoch_before_the_tail():
    p = plateau([NAN, 4, 3, NAN, 2, 2])  # finite: 4, 3, 2, 2 -> q=1, 2 vs 2
    assert (p["n"], p["q"], p["improvement"], p["verdict"]) == (4, 1, 0.0, "converged")
    p = plateau([4, 3, 2, 1], tail=0.9)  # ceil(3.6)=4, capped at n-1=3: before = 4, tail = 1
    assert p["q"] == 3 and p["improvement"] == pytest.approx(0.75)
    assert plateau([4, 3, 2, 1, np.inf])["n"] == 4


@pytest.mark.parametrize("kwargs, message", [({"tail": 0.0}, "tail=0.0"), ({"tail": 1.0}, "tail=1.0"),
                                             ({"tol": -0.1}, "tol=-0.1"), ({"tol": NAN}, "tol=nan")])
def test_plateau_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        plateau([1, 2, 3, 4], **kwargs)


# --- learning curves of each history shape ------------------------------------------------------

def test_single_model_with_validation_monitors_validation():
    h = pd.DataFrame({"epoch": range(5), "train_loss": [6, 5, 4, 3, 2], "val_loss": [5, 4, 3.5, 3.4, 3.39],
                      "lr": 1e-3})
    c = learning_curves(h)
    assert list(c.columns) == ["curve", "epoch", "train_loss", "val_loss", "accuracy", "monitored", "monitor", "phase"]
    assert set(c["curve"]) == {"model"} and set(c["monitor"]) == {"val_loss"}
    assert c["monitored"].tolist() == [5, 4, 3.5, 3.4, 3.39]
    s = convergence_summary(c)
    row = s.iloc[0]
    assert (row["epochs"], row["monitored"], row["first"], row["best"], row["final"]) == (5, "val_loss", 5, 3.39, 3.39)
    assert row["improvement_pct"] == pytest.approx(100 * 0.11 / 3.5) and row["verdict"] == "still improving"


def test_single_model_without_validation_monitors_training_loss():
    # sc_noisy_arcmix: val_loss NaN on every epoch
    h = pd.DataFrame({"epoch": range(8), "train_loss": [4, 3, 2.5, 2.5, 2.49, 2.47, 2.48, 2.46],
                      "val_loss": NAN, "lr": 1e-3})
    c = learning_curves(h)
    assert set(c["monitor"]) == {"train_loss"} and c["val_loss"].isna().all()
    row = convergence_summary(c).iloc[0]
    assert (row["first"], row["best"], row["final"], row["verdict"]) == (4, 2.46, 2.46, "converged")
    assert row["improvement_pct"] == pytest.approx(100 * 0.01 / 2.47)


def test_autoencoder_one_curve_per_machine_and_partial_validation_falls_back_to_training():
    h = pd.DataFrame({"epoch": [0, 1, 2, 3] * 2, "train_loss": [9, 8, 7, 6, 10, 9, 8, 7.9],
                      "val_loss": [5, 4, 4, 4, 6, NAN, 5, 5], "lr": 1e-3,
                      "machine": ["fan"] * 4 + ["valve"] * 4})
    c = learning_curves(h)
    s = convergence_summary(c).set_index("curve")
    assert list(s.index) == ["machine fan", "machine valve"]
    assert s.loc["machine fan", "monitored"] == "val_loss"  # 4 vs 4: 0 %
    assert s.loc["machine fan", "verdict"] == "converged" and s.loc["machine fan", "improvement_pct"] == 0.0
    # valve has no validation loss at epoch 1: the training loss is read, (8 - 7.9) / 8 = 1.25 %
    assert s.loc["machine valve", "monitored"] == "train_loss"
    assert s.loc["machine valve", "improvement_pct"] == pytest.approx(1.25)
    assert c.loc[c["curve"] == "machine valve", "val_loss"].isna().sum() == 1


def test_sc_adacos_one_curve_per_member():
    h = pd.DataFrame({"member": ["two_k2"] * 4 + ["two_k4"] * 3, "epoch": [0, 1, 2, 3, 0, 1, 2],
                      "train_loss": [4, 3, 2, 1.5, 4, 3, 2], "val_loss": NAN, "lr": 1e-3})
    s = convergence_summary(learning_curves(h)).set_index("curve")
    assert list(s.index) == ["member two_k2", "member two_k4"]
    assert s.loc["member two_k2", "improvement_pct"] == pytest.approx(25.0)  # (2 - 1.5) / 2
    assert s.loc["member two_k2", "verdict"] == "still improving"
    assert s.loc["member two_k4", "verdict"] == "too short" and s.loc["member two_k4", "epochs"] == 3


def test_contrastive_group_member_curves_read_the_total_loss():
    h = pd.DataFrame({"group": ["all"] * 6 + ["all"] * 4, "member": [0] * 6 + [1] * 4,
                      "epoch": [0, 1, 2, 3, 4, 5, 0, 1, 2, 3], "lr": 2e-3,
                      "mse": 0.2, "ce": 1.0, "contrastive": 1.0,
                      "total": [6, 5, 4, 4.1, 4.2, 4.3, 8, 6, 4, 2]})
    c = learning_curves(h)
    assert set(c["monitor"]) == {"total"} and c["val_loss"].isna().all()
    assert c.loc[c["curve"] == "group all, member 0", "train_loss"].tolist() == [6, 5, 4, 4.1, 4.2, 4.3]
    s = convergence_summary(c).set_index("curve")
    assert s.loc["group all, member 0", "improvement_pct"] == pytest.approx(-5.0)  # (4 - 4.2) / 4
    assert s.loc["group all, member 0", "verdict"] == "converged"
    assert s.loc["group all, member 1", "improvement_pct"] == pytest.approx(50.0)  # (4 - 2) / 4


def test_guided_clustering_pretrain_rounds_and_finetune_stage():
    h = pd.DataFrame({"stage": ["pretrain"] * 5 + ["finetune"] * 4,
                      "round": [0.0, 1.0, 2.0, 3.0, 4.0] + [NAN] * 4,
                      "nmi_prev": NAN, "nmi_machine": 0.6, "n_nonempty": 32.0, "largest_cluster": 50.0,
                      "epoch": [0] * 5 + [0, 1, 2, 3],
                      "train_loss": [3.0, 2.8, 2.9, 2.5, 2.6, 5.0, 3.0, 2.0, 2.0],
                      "ce_loss": 1.0, "pair_loss": NAN})
    c = learning_curves(h)
    assert c.loc[c["curve"] == "pretrain", "epoch"].tolist() == [0, 1, 2, 3, 4]  # counted over rounds
    assert c.loc[c["curve"] == "finetune", "epoch"].tolist() == [0, 1, 2, 3]
    s = convergence_summary(c).set_index("curve")
    assert list(s.index) == ["pretrain", "finetune"]
    assert s.loc["pretrain", "improvement_pct"] == pytest.approx(100 * 0.3 / 2.8)  # 2.8 before, 2.5 tail
    assert s.loc["pretrain", "verdict"] == "not judged (new targets each round)"  # the loss rule alone: +10.7 %
    assert (s.loc["finetune", "improvement_pct"], s.loc["finetune", "verdict"]) == (0.0, "converged")


def test_curve_epochs_are_sorted():
    h = pd.DataFrame({"epoch": [2, 0, 1, 3], "train_loss": [3.0, 5.0, 4.0, 2.0]})
    assert learning_curves(h)["monitored"].tolist() == [5.0, 4.0, 3.0, 2.0]


@pytest.mark.parametrize("drop, message", [("epoch", "lacks column.s. epoch;"),
                                           ("train_loss", r"lacks column.s. train_loss \(or total\)")])
def test_unknown_history_shape_names_the_missing_columns(drop, message):
    h = pd.DataFrame({"epoch": [0, 1], "train_loss": [2.0, 1.0], "lr": 1e-3}).drop(columns=drop)
    with pytest.raises(AsdlabError, match=message):
        learning_curves(h)


# --- run folders ------------------------------------------------------------------------------

def test_convergence_table_of_a_run_folder(tmp_path):
    assert convergence_table(tmp_path) is None  # no history.csv: a method that does not train
    (tmp_path / "history.csv").write_text("")
    assert convergence_table(tmp_path) is None and load_history(tmp_path) is None
    pd.DataFrame({"member": ["a"] * 4, "epoch": range(4), "train_loss": [4, 3, 2, 1.5]}).to_csv(
        tmp_path / "history.csv", index=False)
    t = convergence_table(tmp_path)
    assert list(t.columns) == ["curve", "epochs", "monitored", "first", "best", "final", "improvement_pct", "verdict"]
    assert t.iloc[0].tolist() == ["member a", 4, "train_loss", 4, 1.5, 1.5, 25.0, "still improving"]
    pd.DataFrame({"step": [0], "loss": [1.0]}).to_csv(tmp_path / "history.csv", index=False)
    with pytest.raises(AsdlabError, match=r"history.csv: history lacks column.s. epoch, train_loss"):
        convergence_table(tmp_path)


# --- the figure -------------------------------------------------------------------------------

def test_history_figure_one_panel_per_curve_with_its_verdict():
    h = pd.DataFrame({"machine": ["fan"] * 4 + ["valve"] * 4, "epoch": [0, 1, 2, 3] * 2,
                      "train_loss": [9, 8, 7, 6, 10, 9, 8, 7.9], "val_loss": [5, 4, 4, 4, 6, NAN, 5, 5]})
    fig = history_figure(h, "AE")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["machine fan: <b>converged</b> (+0.0 % in the tail)",
                      "machine valve: <b>converged</b> (+1.2 % in the tail)"]
    names = [(t.name, t.xaxis, t.line.dash, t.mode) for t in fig.data]
    assert names == [("training loss", "x", "dash", "lines"),
                     ("validation loss (monitored)", "x", "solid", "lines+markers"),
                     ("training loss (monitored)", "x2", "dash", "lines+markers"),
                     ("validation loss", "x2", "solid", "lines")]
    assert [t.showlegend for t in fig.data] == [True, True, True, True]  # four distinct legend entries
    assert list(fig.data[1].y) == [5, 4, 4, 4]
    # the shaded tail: the last q=1 of 4 epochs in each panel; positive losses -> log axes
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(2.5, 3.5), (2.5, 3.5)]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.title.text.startswith("AE<br>")


def test_history_figure_legend_once_linear_axis_for_negative_losses_and_too_short():
    h = pd.DataFrame({"member": ["a"] * 4 + ["b"] * 2, "epoch": [0, 1, 2, 3, 0, 1],
                      "train_loss": [-1, -2, -3, -4, 2, 1]})
    fig = history_figure(h)
    assert [a.text for a in fig.layout.annotations] == ["member a: <b>still improving</b> (+33.3 % in the tail)",
                                                       "member b: <b>too short</b>"]
    assert [t.showlegend for t in fig.data] == [True, False]
    assert fig.layout.yaxis.type != "log" and fig.layout.yaxis2.type == "log"
    with pytest.raises(AsdlabError, match="no rows"):
        history_figure(h.iloc[:0])


# --- accuracy: the classifier methods' verdict ------------------------------------------------

def test_plateau_of_an_accuracy_is_absolute_and_higher_is_better():
    # 8 epochs, q=2: best before 0.85, best of the tail 0.86 -> +0.01 (1 point) <= 2 points
    p = plateau([0.1, 0.6, 0.8, 0.85, 0.84, 0.85, 0.86, 0.85], kind="accuracy")
    assert (p["q"], p["best_before"], p["best_tail"]) == (2, 0.85, 0.86)
    assert p["improvement"] == pytest.approx(0.01) and p["verdict"] == "converged"
    p = plateau([0.1, 0.6, 0.7, 0.75, 0.78, 0.8, 0.83, 0.86], kind="accuracy")  # 0.80 -> 0.86
    assert p["improvement"] == pytest.approx(0.06) and p["verdict"] == "still improving"
    assert plateau([0.1, 0.6, 0.7, 0.75, 0.78, 0.8, 0.83, 0.86], kind="accuracy", tol=0.07)["verdict"] == "converged"
    # a falling accuracy is not an improvement (the loss rule would call 0.9 -> 0.5 a gain)
    assert plateau([0.5, 0.9, 0.9, 0.5], kind="accuracy")["improvement"] == pytest.approx(-0.4)
    with pytest.raises(ConfigError, match="kind='error' must be 'loss' or 'accuracy'"):
        plateau([1, 2, 3, 4], kind="error")


def test_an_accuracy_on_every_epoch_is_monitored_before_any_loss():
    h = pd.DataFrame({"epoch": range(8), "train_loss": [9, 8, 7, 6, 5, 4, 3, 2],
                      "val_loss": [9, 8, 7, 6, 5, 4, 3, 2], "val_acc": [0.2, 0.5, 0.8, 0.9, 0.9, 0.91, 0.9, 0.91]})
    c = learning_curves(h)
    assert set(c["monitor"]) == {"val_acc"} and c["monitored"].tolist() == c["accuracy"].tolist()
    row = convergence_summary(c).iloc[0]
    # the losses still fall 33 % in the tail; the classifier stopped learning: +0 points
    assert (row["monitored"], row["first"], row["best"], row["final"]) == ("val_acc", 0.2, 0.91, 0.91)
    assert (row["improvement_pct"], row["verdict"]) == (pytest.approx(0.0), "converged")
    # train_acc (no validation split) counts the same; a gap in the accuracy falls back to the loss
    h2 = h.rename(columns={"val_acc": "train_acc"}).assign(val_loss=NAN)
    assert set(learning_curves(h2)["monitor"]) == {"train_acc"}
    h2.loc[3, "train_acc"] = NAN
    c2 = learning_curves(h2)
    assert set(c2["monitor"]) == {"train_loss"} and convergence_summary(c2).iloc[0]["verdict"] == "still improving"


def test_history_figure_draws_the_accuracy_on_the_right_axis():
    h = pd.DataFrame({"epoch": range(4), "train_loss": [4, 3, 2, 1.5], "val_loss": [4, 3, 2.5, 2],
                      "val_acc": [0.5, 0.8, 0.9, 0.9]})
    fig = history_figure(h, "MFN")
    assert [a.text for a in fig.layout.annotations] == ["model: <b>converged</b> (+0.0 points in the tail)"]
    assert [(t.name, t.yaxis, t.mode) for t in fig.data] == [("training loss", "y", "lines"),
                                                             ("validation loss", "y", "lines"),
                                                             ("val_acc (monitored)", "y2", "lines+markers")]
    assert fig.layout.yaxis2.overlaying == "y" and list(fig.layout.yaxis2.range) == [0, 1.02]


def test_history_figure_says_rounds_are_not_judged():
    h = pd.DataFrame({"stage": ["pretrain"] * 4 + ["finetune"] * 4, "round": [0.0, 1.0, 2.0, 3.0] + [NAN] * 4,
                      "epoch": [0] * 4 + [0, 1, 2, 3], "train_loss": [3.0, 2.0, 1.0, 0.5, 4, 3, 2, 1.5],
                      "train_acc": [NAN] * 4 + [0.2, 0.5, 0.6, 0.61]})
    fig = history_figure(h)
    assert [a.text for a in fig.layout.annotations] == ["pretrain: <b>not judged (new targets each round)</b>",
                                                       "finetune: <b>converged</b> (+1.0 points in the tail)"]
