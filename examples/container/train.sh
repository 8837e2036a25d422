#!/bin/sh
# The example's training program (busybox sh + awk), as a SageMaker image
# runs it: `train` in a container, everything under /opt/ml.
# Fits y = w*x + b to input/data/train/data.csv ("x,y" lines) by gradient
# descent with the hyperparameters learning_rate and epochs, prints the
# validation error each epoch (the tuning job's objective metric), and writes
# the model to /opt/ml/model/model.txt.
set -e
ML=/opt/ml
hp() {
    grep -o "\"$1\": *\"[^\"]*\"" "$ML/input/config/hyperparameters.json" | head -n 1 |
        sed 's/.*: *"\(.*\)"$/\1/'
}
lr=$(hp learning_rate); lr=${lr:-0.01}
epochs=$(hp epochs); epochs=${epochs:-10}
data=$ML/input/data/train/data.csv
[ -r "$data" ] || { echo "no training data at $data" > "$ML/output/failure"; exit 1; }
echo "training $TRAINING_JOB_NAME on $SM_CURRENT_HOST: learning_rate=$lr epochs=$epochs"
awk -F, -v lr="$lr" -v epochs="$epochs" -v model="$ML/model/model.txt" '
    { x[NR] = $1; y[NR] = $2 }
    END {
        n = NR; w = 0; b = 0; split_at = int(n * 0.8)
        for (e = 1; e <= epochs; e++) {
            for (i = 1; i <= split_at; i++) {
                err = w * x[i] + b - y[i]; w -= lr * err * x[i]; b -= lr * err
            }
            mse = 0
            for (i = split_at + 1; i <= n; i++) { err = w * x[i] + b - y[i]; mse += err * err }
            mse /= (n - split_at)
            if (mse != mse || mse > 1e30) mse = 1e30
            printf "epoch=%d validation:mse=%.6f\n", e, mse
        }
        printf "w=%f b=%f\n", w, b > model
    }' "$data"
