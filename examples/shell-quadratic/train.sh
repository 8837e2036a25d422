#!/bin/sh
# A training program in POSIX sh + awk, needing nothing beyond the base
# system: it "trains" by descending a quadratic bowl and prints a loss per
# epoch, so openhpo has something to minimise in a second or two.
#
# Contract: invoked with "train"; hyperparameters arrive in
# $SM_INPUT_CONFIG_DIR/hyperparameters.json and, one per variable, as
# SM_HP_<NAME> (upper case); the model goes to $SM_MODEL_DIR.
# Hyperparameters: x, y (tuned, where the descent starts), learning_rate
# (tuned), epochs (static).
set -eu
x=${SM_HP_X:?hyperparameter x missing}
y=${SM_HP_Y:?hyperparameter y missing}
lr=${SM_HP_LEARNING_RATE:-0.1}
epochs=${SM_HP_EPOCHS:-5}
echo "starting at x=$x y=$y learning_rate=$lr epochs=$epochs"
awk -v x="$x" -v y="$y" -v lr="$lr" -v epochs="$epochs" 'BEGIN {
    # loss(x, y) = (x - 3)^2 + 10 (y + 1)^2; gradient steps of size lr
    for (e = 1; e <= epochs; e++) {
        x -= lr * 2 * (x - 3); y -= lr * 20 * (y + 1)
        loss = (x - 3) ^ 2 + 10 * (y + 1) ^ 2
        if (loss > 1e12) { print "diverged at epoch " e > "/dev/stderr"; exit 2 }
        printf "epoch %d: loss=%.6f\n", e, loss
    }
    printf "final loss=%.6f x=%.4f y=%.4f\n", loss, x, y
}'
echo "x=$x y=$y lr=$lr" > "${SM_MODEL_DIR:-.}/model.txt"
