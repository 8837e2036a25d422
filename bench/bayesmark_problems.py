"""Bayesmark-style problems: scikit-learn models on datasets Debian's
python3-sklearn ships, scored by cross-validated loss.

The search spaces are those of Bayesmark (github.com/uber/bayesmark,
bayesmark/sklearn_funcs.py), written out here from its documentation of
each model's ranges.  Two changes, both for all optimisers alike: Bayesmark's
"logit" warping (not in SageMaker's ScalingType nor in Optuna) becomes Linear,
and the regression lasso/linear spaces drop "normalize" (removed in
scikit-learn 1.2).

The objective is deterministic: the data are split once (80% for CV, as
Bayesmark holds out 20%, shuffle seed 0), the folds are a fixed shuffled
K-fold (seed 0) and every model with a random_state gets random_state=0.
So the same configuration always has the same loss, and a repeated
configuration can be answered from a cache.

Losses (minimised): "acc" is 1 - accuracy, "nll" the log loss, "mse" and
"mae" the mean squared / absolute error of the held-in folds, averaged over
folds.  A model that fails to fit (scikit-learn raises) gets the loss of
the worst case the metric defines: 1 for acc, and for the others the
problem's FAIL_LOSS below (Bayesmark asserts on such cases instead).

Used by bench/bayesmark.py (the driver) and bench/bayesmark_train.py (the
training program hpod runs).
"""
import math
import warnings

CV_FOLDS = 3

# name: (type, scaling, low, high); type "int" or "real"; scaling "linear" or "log"
KNN = {"n_neighbors": ("int", "linear", 1, 25), "p": ("int", "linear", 1, 4)}
SVM = {"C": ("real", "log", 1.0, 1e3), "gamma": ("real", "log", 1e-4, 1e-3),
       "tol": ("real", "log", 1e-5, 1e-1)}
DT = {"max_depth": ("int", "linear", 1, 15),
      "min_samples_split": ("real", "linear", 0.01, 0.99),
      "min_samples_leaf": ("real", "linear", 0.01, 0.49),
      "min_weight_fraction_leaf": ("real", "linear", 0.01, 0.49),
      "max_features": ("real", "linear", 0.01, 0.99),
      "min_impurity_decrease": ("real", "linear", 0.0, 0.5)}
RF = dict(DT)
MLP_ADAM = {"hidden_layer_sizes": ("int", "linear", 50, 200),
            "alpha": ("real", "log", 1e-5, 1e1),
            "batch_size": ("int", "linear", 10, 250),
            "learning_rate_init": ("real", "log", 1e-5, 1e-1),
            "tol": ("real", "log", 1e-5, 1e-1),
            "validation_fraction": ("real", "linear", 0.1, 0.9),
            "beta_1": ("real", "linear", 0.5, 0.99),
            "beta_2": ("real", "linear", 0.9, 1.0 - 1e-6),
            "epsilon": ("real", "log", 1e-9, 1e-6)}
ADA = {"n_estimators": ("int", "linear", 10, 100),
       "learning_rate": ("real", "log", 1e-4, 1e1)}
LOGREG = {"C": ("real", "log", 1e-2, 1e2), "intercept_scaling": ("real", "log", 1e-2, 1e2)}
LASSO_REG = {"alpha": ("real", "log", 1e-2, 1e2), "max_iter": ("int", "log", 10, 5000),
             "tol": ("real", "log", 1e-5, 1e-1)}
RIDGE_REG = {"alpha": ("real", "log", 1e-2, 1e2), "max_iter": ("int", "log", 10, 5000),
             "tol": ("real", "log", 1e-4, 1e-1)}


def _model(model, clf, metric):
    """The estimator class, its fixed parameters and its space."""
    from sklearn import ensemble, linear_model, neighbors, neural_network, svm, tree
    if model == "kNN":
        return (neighbors.KNeighborsClassifier if clf else neighbors.KNeighborsRegressor), {}, KNN
    if model == "SVM":
        if clf:
            return svm.SVC, {"kernel": "rbf", "probability": metric == "nll"}, SVM
        return svm.SVR, {"kernel": "rbf"}, SVM
    if model == "DT":
        return ((tree.DecisionTreeClassifier if clf else tree.DecisionTreeRegressor),
                {"random_state": 0}, DT)
    if model == "RF":
        return ((ensemble.RandomForestClassifier if clf else ensemble.RandomForestRegressor),
                {"n_estimators": 10, "random_state": 0}, RF)
    if model == "MLP-adam":
        return ((neural_network.MLPClassifier if clf else neural_network.MLPRegressor),
                {"solver": "adam", "early_stopping": True, "random_state": 0}, MLP_ADAM)
    if model == "ada":
        return ((ensemble.AdaBoostClassifier if clf else ensemble.AdaBoostRegressor),
                {"random_state": 0}, ADA)
    if model in ("lasso", "linear"):
        if clf:
            return linear_model.LogisticRegression, {
                "penalty": "l1" if model == "lasso" else "l2", "solver": "liblinear",
                "random_state": 0}, LOGREG
        if model == "lasso":
            return linear_model.Lasso, {"random_state": 0}, LASSO_REG
        return linear_model.Ridge, {"random_state": 0}, RIDGE_REG
    raise KeyError(model)


DATASETS = {"digits": True, "iris": True, "wine": True, "breast": True, "diabetes": False}

# The problems the full run uses: model-dataset-metric, in the order run.
# Chosen to be cheap (fits of 0.2-0.5 s: SVM and kNN on digits, ada, lasso
# on breast cancer, are left out for time on 2 shared cores), and to leave
# out problems random search solves as well: kNN's 100 configurations,
# linear and SVM regression on diabetes (flat within 0.2%).
PROBLEMS = [
    "DT-breast-nll", "linear-wine-nll", "MLP-adam-wine-nll", "lasso-wine-nll", "DT-diabetes-mae",
    "RF-wine-nll", "SVM-breast-nll", "DT-wine-nll",
]
QUICK = ["DT-breast-nll", "RF-wine-nll", "linear-wine-nll"]


def params(space, hp):
    """Typed model parameters from strings or numbers (hp: name -> value),
    clamped to the space (a string of a bound may round outside it)."""
    out = {}
    for k, (t, _, lo, hi) in space.items():
        v = min(max(float(hp[k]), lo), hi)
        out[k] = int(round(v)) if t == "int" else v
    if "hidden_layer_sizes" in out:
        out["hidden_layer_sizes"] = (out["hidden_layer_sizes"],)
    return out


def key(space, hp):
    """The cache key of a configuration: the parameters as the model sees
    them, reals to 10 significant digits."""
    return tuple((k, float("%.10g" % v) if isinstance(v, float) else v)
                 for k, v in sorted(params(space, hp).items()))


class Problem:
    """One model-dataset-metric; evaluate(params) gives its CV loss."""

    def __init__(self, name):
        from sklearn import datasets
        from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
        self.name = name
        model, ds, self.metric = name.rsplit("-", 2)
        self.clf = DATASETS[ds]
        loader = {"digits": datasets.load_digits, "iris": datasets.load_iris,
                  "wine": datasets.load_wine, "breast": datasets.load_breast_cancer,
                  "diabetes": datasets.load_diabetes}[ds]
        X, y = loader(return_X_y=True)
        X = X.astype(float)
        # Bayesmark keeps 20% aside for a generalisation score; the CV loss,
        # which the optimisers see, is on the other 80%.
        self.X, _, self.y, _ = train_test_split(X, y, test_size=0.2, random_state=0, shuffle=True)
        self.cls, self.fixed, self.space = _model(model, self.clf, self.metric)
        kf = (StratifiedKFold if self.clf else KFold)(CV_FOLDS, shuffle=True, random_state=0)
        self.folds = list(kf.split(self.X, self.y))

    @staticmethod
    def space_of(name):
        model, ds, metric = name.rsplit("-", 2)
        return _model(model, DATASETS[ds], metric)[2]

    def params(self, hp):
        return params(self.space, hp)

    def evaluate(self, hp):
        from sklearn import metrics
        p = self.params(hp)
        p.update(self.fixed)
        losses = []
        for tr, va in self.folds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    m = self.cls(**p).fit(self.X[tr], self.y[tr])
                    if self.metric == "acc":
                        loss = 1.0 - metrics.accuracy_score(self.y[va], m.predict(self.X[va]))
                    elif self.metric == "nll":
                        loss = metrics.log_loss(self.y[va], m.predict_proba(self.X[va]),
                                                labels=sorted(set(self.y)))
                    elif self.metric == "mse":
                        loss = metrics.mean_squared_error(self.y[va], m.predict(self.X[va]))
                    else:
                        loss = metrics.mean_absolute_error(self.y[va], m.predict(self.X[va]))
                except (ValueError, ArithmeticError):
                    loss = float("nan")
            if not math.isfinite(loss):
                loss = self.fail_loss()
            losses.append(loss)
        return sum(losses) / len(losses)

    def fail_loss(self):
        """A failed or non-finite fit: the metric's worst case, for nll the
        loss of predicting 1e-15 for the true class (log_loss's clip); for
        regression the variance of y times 10."""
        if self.metric == "acc":
            return 1.0
        if self.metric == "nll":
            return -math.log(1e-15)
        mu = sum(self.y) / len(self.y)
        var = sum((v - mu) ** 2 for v in self.y) / len(self.y)
        return 10 * (var if self.metric == "mse" else math.sqrt(var))
