"""Chapter 03: the GAN's losses, models, two-optimizer step, training loop, data split and quality score."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from textrnn_lab.errors import CourseError, DataError
from textrnn_lab.gan import (
    ClassifierConfig,
    Discriminator,
    GANConfig,
    GANTrainConfig,
    Generator,
    class_entropy,
    discriminator_loss,
    feature_stats,
    frechet_distance,
    gan_step,
    generate,
    generator_loss,
    load_digits,
    load_or_train_classifier,
    loss_slopes,
    minimax_generator_loss,
    noise_scale,
    quality_score,
    split_digits,
    to_pixels,
    to_unit_range,
    train_gan,
)
from textrnn_lab.gan.quality import train_classifier

SMALL = GANConfig(noise_dim=8, generator_hidden=(16,), discriminator_hidden=(16,))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models: one thread is faster than two fighting over a shared CPU (and far faster on a busy one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load_digits(held_out=1000, seed=0)


# --------------------------------------------------------------------------- losses


def test_losses_match_pytorchs_binary_cross_entropy():
    real, fake = torch.randn(7) * 3, torch.randn(5) * 3
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(7)) + bce(fake, torch.zeros(5))
    assert torch.allclose(discriminator_loss(real, fake), expected, atol=1e-6)
    smoothed = bce(real, torch.full((7,), 0.9)) + bce(fake, torch.zeros(5))
    assert torch.allclose(discriminator_loss(real, fake, real_target=0.9), smoothed, atol=1e-6)
    assert torch.allclose(generator_loss(fake), bce(fake, torch.ones(5)), atol=1e-6)
    assert torch.allclose(minimax_generator_loss(fake), -bce(fake, torch.zeros(5)), atol=1e-6)


def test_losses_stay_finite_where_the_sigmoid_rounds_to_0_or_1():
    big = torch.tensor([200.0, -200.0])
    for value in (discriminator_loss(big, big), generator_loss(big), minimax_generator_loss(big)):
        assert math.isfinite(float(value))
    assert float(generator_loss(torch.tensor([-300.0]))) == pytest.approx(300.0)


def test_the_minimax_loss_saturates_where_d_rejects_the_fakes():
    slopes = loss_slopes(torch.tensor([-6.0, 0.0, 2.0]))
    # d/dl softplus(-l) = -sigmoid(-l); d/dl -softplus(l) = -sigmoid(l)
    assert torch.allclose(slopes["non_saturating"], -torch.sigmoid(torch.tensor([6.0, 0.0, -2.0])))
    assert torch.allclose(slopes["minimax"], -torch.sigmoid(torch.tensor([-6.0, 0.0, 2.0])))
    assert abs(float(slopes["non_saturating"][0])) > 100 * abs(float(slopes["minimax"][0]))


# --------------------------------------------------------------------------- models and the step


def test_models_shapes_and_ranges():
    G, D = Generator(GANConfig()), Discriminator(GANConfig())
    z = G.noise(5)
    assert z.shape == (5, 100)
    images = G(z)
    assert images.shape == (5, 784) and float(images.detach().abs().max()) <= 1.0
    assert D(images).shape == (5,)
    assert D(images.reshape(5, 28, 28)).shape == (5,)  # an image grid is flattened


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _moved(before, module):
    return max(float((a - b.detach()).abs().max()) for a, b in zip(before, module.parameters()))


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_optimizer_moves_only_its_own_network(frozen):
    torch.manual_seed(0)
    G, D = Generator(SMALL), Discriminator(SMALL)
    opt_g = torch.optim.Adam(G.parameters(), lr=0.0 if frozen == "generator" else 1e-2)
    opt_d = torch.optim.Adam(D.parameters(), lr=0.0 if frozen == "discriminator" else 1e-2)
    g0, d0 = _params(G), _params(D)
    row = gan_step(G, D, opt_g, opt_d, torch.rand(6, 784) * 2 - 1, GANTrainConfig())
    assert set(row) == {"d_loss", "g_loss", "d_real", "d_fake"}
    if frozen == "generator":  # the discriminator's step and the generator's loss must not touch G
        assert _moved(g0, G) == 0.0 and _moved(d0, D) > 0
    else:  # the generator's step goes through D, and must not change it
        assert _moved(d0, D) == 0.0 and _moved(g0, G) > 0


def test_the_minimax_setting_uses_the_minimax_loss():
    torch.manual_seed(0)
    G, D = Generator(SMALL), Discriminator(SMALL)
    opts = [torch.optim.SGD(m.parameters(), lr=0.0) for m in (G, D)]
    row = gan_step(G, D, *opts, torch.zeros(4, 784), GANTrainConfig(generator_loss="minimax"))
    assert row["g_loss"] < 0  # log(1 - D) is negative; -log D is positive


def test_instance_noise_fades_to_zero():
    config = GANTrainConfig(max_steps=100, instance_noise=0.2)
    assert noise_scale(config, 0) == pytest.approx(0.2)
    assert noise_scale(config, 50) == pytest.approx(0.1)
    assert noise_scale(config, 100) == 0.0
    assert noise_scale(GANTrainConfig(max_steps=10), 3) == 0.0


def test_train_gan_keeps_losses_snapshots_and_histograms(digits):
    config = GANTrainConfig(max_steps=12, batch_size=16, snapshots=3, seed=1)
    seen = []

    def classifier(images):
        seen.append(images.shape)
        return torch.zeros(images.shape[0], dtype=torch.long)

    run = train_gan(digits.train_images[:200], SMALL, config, classifier=classifier, histogram_samples=50,
                    snapshot_size=4, device="cpu")
    assert [r["step"] for r in run.steps] == list(range(1, 13))
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in run.steps)
    assert sorted(run.snapshots) == [0, 1, 6, 12]
    assert all(s.shape == (4, 784) for s in run.snapshots.values())
    assert all(int(h.sum()) == 50 and int(h[0]) == 50 for h in run.histograms.values())
    assert run.fixed_noise.shape == (4, 8)
    again = train_gan(digits.train_images[:200], SMALL, config, snapshot_size=4, device="cpu")
    assert again.per_step("g_loss") == run.per_step("g_loss")  # the seed fixes the run
    assert run.sample(3).shape == (3, 784)


def test_train_gan_refuses_bad_images():
    with pytest.raises(CourseError, match="shape"):
        train_gan(torch.zeros(100, 28, 28), SMALL, GANTrainConfig(max_steps=1))
    with pytest.raises(CourseError, match=r"\[-1, 1\]"):
        train_gan(torch.full((100, 784), 255.0), SMALL, GANTrainConfig(max_steps=1))
    with pytest.raises(CourseError, match="fewer than one batch"):
        train_gan(torch.zeros(10, 784), SMALL, GANTrainConfig(max_steps=1, batch_size=64))


@pytest.mark.parametrize("bad", [dict(generator_loss="wasserstein"), dict(label_smoothing=0.7),
                                 dict(batch_size=1), dict(max_steps=None), dict(snapshots=0)])
def test_train_config_refuses_bad_settings(bad):
    with pytest.raises(CourseError):
        GANTrainConfig(**bad)


def test_gan_config_refuses_bad_shapes():
    with pytest.raises(CourseError):
        GANConfig(generator_hidden=())
    with pytest.raises(CourseError):
        GANConfig(noise_dim=0)


def test_a_short_training_moves_the_samples_towards_real_digits(digits):
    torch.manual_seed(0)
    clf = train_classifier(digits.train_images, digits.train_labels, ClassifierConfig(steps=150))
    reference = feature_stats(clf, digits.train_images)
    run = train_gan(digits.train_images, GANConfig(), GANTrainConfig(max_steps=150, seed=0), device="cpu")
    before = quality_score(clf, generate(Generator(GANConfig()), 300, seed=3), reference)
    after = quality_score(clf, run.sample(300, seed=3), reference)
    assert after.frechet < 0.85 * before.frechet and after.class_entropy > before.class_entropy


# --------------------------------------------------------------------------- data


def test_split_is_stratified_shuffled_and_scaled(digits):
    assert digits.train_images.shape == (4000, 784) and digits.held_out_images.shape == (1000, 784)
    assert torch.bincount(digits.held_out_labels).tolist() == [100] * 10
    assert len(set(digits.held_out_labels[:50].tolist())) >= 8  # shuffled: the file is sorted by digit
    assert float(digits.train_images.min()) == -1.0 and float(digits.train_images.max()) == 1.0
    pixels = to_pixels(digits.train_images[:2])
    assert pixels.shape == (2, 28, 28) and pixels.min() >= 0 and pixels.max() <= 1


def test_bad_images_and_labels_are_one_clear_error():
    with pytest.raises(DataError, match="shape"):
        to_unit_range(np.zeros((5, 784), dtype=np.uint8))
    with pytest.raises(DataError, match="labels"):
        split_digits(np.zeros((10, 28, 28), dtype=np.uint8), np.zeros(9), held_out=2)
    with pytest.raises(DataError, match="held_out"):
        split_digits(np.zeros((10, 28, 28), dtype=np.uint8), np.zeros(10), held_out=10)


# --------------------------------------------------------------------------- quality


def test_frechet_distance_against_scipy_and_closed_forms():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for n in (1, 3, 6):
        a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
        s1, s2 = a @ a.T + 0.1 * np.eye(n), b @ b.T + 0.1 * np.eye(n)
        m1, m2 = rng.normal(size=n), rng.normal(size=n)
        root = scipy_linalg.sqrtm(s1 @ s2).real
        expected = float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))
        assert frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-6)
    eye = np.eye(4)
    assert frechet_distance(np.zeros(4), eye, np.zeros(4), eye) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(np.zeros(4), eye, np.zeros(4), 9 * eye) == pytest.approx(4 * (1 + 9 - 6))


def test_class_entropy_is_one_for_uniform_and_zero_for_one_digit():
    assert class_entropy(torch.full((10,), 7)) == pytest.approx(1.0)
    assert class_entropy(torch.tensor([0, 0, 30, 0, 0, 0, 0, 0, 0, 0])) == 0.0
    assert 0 < class_entropy(torch.tensor([5, 5, 0, 0, 0, 0, 0, 0, 0, 0])) < 0.5


def test_real_digits_score_far_better_than_noise(digits):
    clf = train_classifier(digits.train_images, digits.train_labels, ClassifierConfig(steps=150))
    reference = feature_stats(clf, digits.train_images)
    real = quality_score(clf, digits.held_out_images[:500], reference)
    noise = quality_score(clf, torch.rand(500, 784) * 2 - 1, reference)
    assert real.frechet < 0.2 * noise.frechet
    assert real.confident > noise.confident and real.class_entropy > 0.95
    assert sum(real.histogram) == 500
    collapsed = quality_score(clf, digits.held_out_images[digits.held_out_labels == 3][:60], reference)
    assert collapsed.class_entropy < 0.5 and collapsed.frechet > real.frechet


def test_the_classifier_cache_is_written_read_and_replaced_when_broken(digits, tmp_path):
    config = ClassifierConfig(steps=5, hidden=16, features=8)
    path = tmp_path / "clf.pt"
    first = load_or_train_classifier(digits.train_images, digits.train_labels, config, cache=path)
    assert path.is_file()
    second = load_or_train_classifier(digits.train_images, digits.train_labels, config, cache=path)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    path.write_bytes(b"not a checkpoint")
    third = load_or_train_classifier(digits.train_images, digits.train_labels, config, cache=path)
    assert third.features(digits.train_images[:2]).shape == (2, 8)
    assert path.stat().st_size > 100  # replaced by a real checkpoint
