"""The disentanglement scores on known answers: an oracle (the factors themselves) scores 1, a
code independent of the data scores chance (1 / number of factors) and a MIG near 0, and
permuting or rescaling the oracle's dimensions changes nothing."""
import numpy as np
import pytest
import torch

from dgmbench.metrics import disentanglement as dis


class Grid:
    """A factor sampler whose "images" are the factor vectors (so any code of them is exact)."""

    factor_names = ("a", "b", "c", "d", "e")
    factor_sizes = (3, 6, 10, 8, 8)  # <= 20 values each: the 20-bin histogram of MIG is lossless

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, k, n) for k in self.factor_sizes], 1)

    def images_for_factors(self, factors, rng=None):
        return torch.as_tensor(factors, dtype=torch.float32)


ORACLE = lambda x: x.numpy()  # noqa: E731
SMALL = dict(batch=32, train=300, evaluate=200)


def scores(represent, seed=0):
    truth = Grid()
    rng = lambda: np.random.default_rng(seed)  # noqa: E731
    return {**dis.betavae_score(represent, truth, rng(), **SMALL),
            **dis.factorvae_score(represent, truth, rng(), variance_points=2000, **SMALL),
            **dis.mig(represent, truth, rng(), points=3000)}


def test_oracle_scores_one():
    s = scores(ORACLE)
    assert s["betavae_score"] == 1.0
    assert s["factorvae_score"] == 1.0
    assert s["mig"] > 0.99  # 1 less the plug-in bias of the second-best dimension's MI


def test_random_code_scores_chance():
    noise = np.random.default_rng(5)
    s = scores(lambda x: noise.standard_normal((len(x), 5)))
    assert 0.1 < s["betavae_score"] < 0.35  # chance: 1/5
    assert 0.1 < s["factorvae_score"] < 0.35
    assert s["mig"] < 0.02


def test_permuted_and_rescaled_oracle_scores_the_same():
    perm, gain = np.array([3, 0, 4, 1, 2]), np.array([2.0, 0.5, 7.0, 1.0, 3.0])
    a, b = scores(ORACLE), scores(lambda x: x.numpy()[:, perm] * gain)
    for key in ("betavae_score", "factorvae_score", "mig"):
        assert a[key] == pytest.approx(b[key], abs=1e-9), key


def test_mig_of_an_oracle_is_capped_by_the_bins():
    """With 40 values in 20 bins the best code keeps log 20 of log 40 nats."""
    class Forty(Grid):
        factor_sizes = (40,)
        factor_names = ("orientation",)

    m = dis.mig(ORACLE, Forty(), np.random.default_rng(0), points=20_000, bins=20)["mig"]
    assert m == pytest.approx(np.log(20) / np.log(40), abs=0.01)


def test_a_collapsed_code_scores_zero_on_factorvae():
    s = dis.factorvae_score(lambda x: np.zeros((len(x), 3)), Grid(), np.random.default_rng(0), **SMALL)
    assert s["factorvae_score"] == 0.0


def test_a_half_disentangled_code_sits_between():
    """Two factors mixed into one dimension pair: the gap shrinks for those two only."""
    def mixed(x):
        z = x.numpy().copy()
        z[:, 3], z[:, 4] = z[:, 3] + z[:, 4], z[:, 3] - z[:, 4]
        return z
    s = scores(mixed)
    assert s["mig_a"] > 0.99 and s["mig_d"] < 0.6 and s["mig_e"] < 0.6
    assert s["mig"] < 0.85


# -- SAP: disentanglement_lib's score matrix, transcribed ------------------------------------------

def reference_sap_matrix(mus, ys, mus_test, ys_test, continuous_factors):
    """disentanglement_lib's compute_score_matrix (evaluation/metrics/sap_score.py, commit
    86a644d4ed35c771560dc3360756363d35477357), line for line: codes and factors as (dims, points)."""
    from sklearn import svm

    num_latents, num_factors = mus.shape[0], ys.shape[0]
    score_matrix = np.zeros([num_latents, num_factors])
    for i in range(num_latents):
        for j in range(num_factors):
            mu_i, y_j = mus[i, :], ys[j, :]
            if continuous_factors:
                cov_mu_i_y_j = np.cov(mu_i, y_j, ddof=1)
                cov_mu_y = cov_mu_i_y_j[0, 1] ** 2
                var_mu, var_y = cov_mu_i_y_j[0, 0], cov_mu_i_y_j[1, 1]
                score_matrix[i, j] = cov_mu_y * 1. / (var_mu * var_y) if var_mu > 1e-12 else 0.
            else:
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(mu_i[:, np.newaxis], y_j)
                pred = classifier.predict(mus_test[i, :][:, np.newaxis])
                score_matrix[i, j] = np.mean(pred == ys_test[j, :])
    return score_matrix


def fixed_representation(n, seed):
    """Factors with unequal class frequencies (so balanced and plain accuracy differ) and a code
    that mixes them with noise (so the SVM's C and class weights matter)."""
    rng = np.random.default_rng(seed)
    f = np.stack([rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(2, n, p=[0.8, 0.2]),
                  rng.integers(0, 5, n)], 1)
    mix = np.array([[1.0, 0.3, 0.0, 0.2], [0.0, 1.0, 0.5, 0.0], [0.2, 0.0, 1.0, 0.4]])
    return f, f @ mix + 0.8 * rng.standard_normal((n, 4))


@pytest.mark.parametrize("continuous", [False, True])
def test_sap_matrix_equals_disentanglement_libs(continuous):
    f_train, z_train = fixed_representation(600, 0)
    f_eval, z_eval = fixed_representation(400, 1)
    ours = dis.sap_score_matrix(z_train, f_train, z_eval, f_eval, continuous)
    ref = reference_sap_matrix(z_train.T, f_train.T, z_eval.T, f_eval.T, continuous)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    top = np.sort(ref, axis=0)
    np.testing.assert_allclose(dis.sap_from_matrix(ours), top[-1] - top[-2], atol=1e-12)


def test_sap_continuous_entries_are_squared_correlations():
    f, z = fixed_representation(500, 2)
    r = np.corrcoef(np.c_[z, f].T)[:4, 4:]
    np.testing.assert_allclose(dis.sap_score_matrix(z, f, z, f, continuous=True), r ** 2, atol=1e-12)


def test_sap_discrete_entries_are_plain_accuracies_of_the_svm():
    """A constant code: the balanced SVM predicts one class everywhere, so the entry is that class's
    frequency among the test points (plain accuracy), not 1/classes (balanced accuracy)."""
    f, _ = fixed_representation(500, 3)
    s = dis.sap_score_matrix(np.zeros((500, 1)), f, np.zeros((500, 1)), f)
    for k in range(f.shape[1]):
        freq = np.bincount(f[:, k]) / len(f)
        assert any(s[0, k] == pytest.approx(p, abs=1e-12) for p in freq), (k, s[0, k], freq)


class Binary(Grid):
    """Two-valued factors: a one-dimensional linear SVM separates each exactly."""

    factor_names = ("a", "b", "c")
    factor_sizes = (2, 2, 2)


def test_sap_of_an_oracle_and_of_a_duplicated_code():
    """Each binary factor's own dimension predicts it exactly (1); any other dimension is
    independent of it, so its accuracy is chance (about 1/2): the oracle's gap is about 1/2. Two
    copies of the oracle leave no gap at all."""
    rng = np.random.default_rng(0)
    f = Binary().sample_factors(800, rng)
    s = dis.sap_score_matrix(f.astype(float), f, f.astype(float), f)
    np.testing.assert_array_equal(np.diag(s), 1.0)
    assert np.all(np.abs(s[~np.eye(3, dtype=bool)] - 0.5) < 0.06)
    one = dis.sap(ORACLE, Binary(), np.random.default_rng(0), train=500, evaluate=300)
    assert all(0.44 < one[f"sap_{n}"] < 0.56 for n in "abc")
    twice = dis.sap(lambda x: np.hstack([x.numpy(), x.numpy()]), Binary(), np.random.default_rng(0),
                    train=500, evaluate=300)
    assert twice["sap"] == 0.0


def test_sap_continuous_oracle_near_one_and_constant_code_zero():
    rng = np.random.default_rng(0)
    one = dis.sap(ORACLE, Grid(), rng, train=3000, evaluate=10, continuous=True)["sap"]
    assert 0.99 < one <= 1.0  # 1 less the sampled squared correlations of independent factors
    zero = dis.sap(lambda x: np.zeros((len(x), 5)), Grid(), rng, train=3000, evaluate=10, continuous=True)
    assert zero["sap"] == 0.0


def test_sap_defaults_are_disentanglement_libs():
    """unsupervised_study_v1/metric_configs/sap_score.gin: num_train 10000, num_test 5000,
    continuous_factors False."""
    import inspect

    sig = inspect.signature(dis.sap).parameters
    assert (sig["train"].default, sig["evaluate"].default, sig["continuous"].default) == (10_000, 5_000, False)
    assert (dis.DEFAULTS["sap_train"], dis.DEFAULTS["sap_eval"], dis.DEFAULTS["sap_continuous"]) == (10_000, 5_000, 0)
