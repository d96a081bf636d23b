"""train@sysid: for each system, the NARX network rebuilt from the search's best values and
trained from scratch (early-stopped on validation), the ADALINE trained by LMS, and the
least-squares solution; the linear weights go to ``linear.json`` beside the network."""

from __future__ import annotations

from pipeline.core.context import StageContext, StageResult
from pipeline.core.outputs import write_json_atomic
from pipeline.core.runner import main
from pipeline.experiments.sysid.layout import LINEAR_FILE, SYSTEMS
from pipeline.experiments.sysid.linear import adaline, least_squares
from pipeline.experiments.sysid.narx import build_narx, predict
from pipeline.experiments.sysid.params import EXPERIMENT
from pipeline.experiments.sysid.scores import mse
from pipeline.ml.predict import save_trained_model
from pipeline.ml.search_space import fixed_hyperparameters, read_best
from pipeline.ml.split_files import load_split
from pipeline.ml.training import EpochTimer, fit, plot_history
from pipeline.tracking.runs import nested_run


def train(ctx: StageContext) -> StageResult:
    params = ctx.params.train
    metrics, details, timings = {}, {}, {}
    for system in SYSTEMS:
        train_split = load_split(ctx.paths.processed, f"{system}_train")
        validation = load_split(ctx.paths.processed, f"{system}_validation")
        folder = ctx.out / system
        folder.mkdir()
        hp = fixed_hyperparameters(read_best(ctx.paths.tune / system))
        model = build_narx(hp, ctx.params.tune.search_space, *train_split)
        timer = EpochTimer()
        with nested_run(f"train {system}", system=system):  # one run per network's history
            history = fit(model, train_split, validation, params, callbacks=[timer], verbose=0)
        save_trained_model(model, folder)
        history.to_csv(ctx.plots / f"{system}_history.csv", index=False, float_format="%.6g")
        plot_history(history, ctx.out / f"{system}_history.png")

        weights, curve = adaline(*train_split, step=params.adaline.step,
                                 epochs=params.adaline.epochs, rng=ctx.rng(f"adaline-{system}"))
        exact = least_squares(*train_split)
        write_json_atomic(folder / LINEAR_FILE, {"adaline": weights.tolist(),
                                                  "least_squares": exact.tolist(),
                                                  "adaline_training_mse": curve.tolist()})
        x_val, y_val = validation
        metrics[f"{system}_narx_val_mse"] = mse(predict(model, x_val), y_val)
        details |= {f"{system}_narx_train_mse": mse(predict(model, train_split[0]),
                                                    train_split[1]),
                    f"{system}_adaline_val_mse": mse(x_val @ weights, y_val),
                    f"{system}_least_squares_val_mse": mse(x_val @ exact, y_val),
                    f"{system}_narx_epochs_run": len(history),
                    f"{system}_narx_parameters": int(model.count_params())}
        timings[f"{system}_seconds_per_epoch"] = round(timer.median_seconds, 3)
    return StageResult(metrics, details, timings)


if __name__ == "__main__":
    main(EXPERIMENT, "train", train)
