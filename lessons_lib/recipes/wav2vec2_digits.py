r"""Recipe: wav2vec 2.0 pre-trained without labels on FSDD connected digits, then probed and fine-tuned (Chapter 6).

Data: the connected-digit utterances of Chapter 5 (``ctc_digits.build_corpus``:
two to five digits of one speaker joined by pauses, training utterances from
takes 10-49, validation 5-9, test 0-4), so that an utterance (about 1-3 s) is
many masked spans long. Each waveform is standardised (zero mean, unit
variance), as ``transformers``' feature extractor does.

Model: :class:`lessons_lib.models.wav2vec2.Wav2Vec2ForPreTraining` at a CPU
size (:func:`model_config`). FSDD is sampled at 8 kHz, half the paper's rate,
so the feature encoder has six convolutions instead of seven: kernels
(10, 3, 3, 3, 3, 2), strides (5, 2, 2, 2, 2, 2), a hop of 160 samples and a
receptive field of 240: **one frame every 20 ms (50 frames per second), each
seeing 30 ms**, the paper's frame rate at the paper's 16 kHz with one stride-2
layer fewer. Masks: span starts with ``mask_prob`` 0.5 and spans of
``mask_length`` 5 frames (100 ms: about a phone; the paper's 10 frames, 200 ms,
would hide half a digit), about 40 % of the frames masked.

Pre-training loss: per masked frame, :math:`(\mathcal L_m + \alpha\,|\mathcal M|\,
\mathcal L_d) / |\mathcal M|` (:func:`loss`), with ``num_negatives`` distractors
from the same utterance; AdamW, one-cycle learning rate, gradient clipping; the
Gumbel temperature annealed geometrically from ``gumbel_start`` to
``gumbel_end`` over the epochs (the paper: 2 to 0.5). Masks and negatives of
utterance :math:`i` in epoch :math:`e` come from ``default_rng((seed, e, i))``,
so a resumed run sees the same ones. After each epoch, :func:`validate`
records on the validation utterances (eval mode: arg-max codes) the contrastive
loss per masked frame, the accuracy of picking the true quantised frame, and
the codebook perplexity.

Collapse. With the diversity loss off (``diversity_weight=0``) the quantiser may
map every frame to the same few entries: perplexity falls towards :math:`G = 2`,
every distractor equals the true target, its logit is set to :math:`-\infty`,
and the contrastive loss reaches 0 without the model learning anything (the
"loss 0, perplexity 2" reports of users of the reference code). The diversity
loss, a high starting Gumbel temperature, and logits of order one at the start
(the quantiser's projection initialised N(0, 1)) prevent it.

Headline (:func:`evaluate`): a linear probe of frozen features, frame by frame:
each 20-ms frame is labelled with the digit whose recording covers its centre,
or "pause" (class 10) between recordings; a linear classifier is fitted by
least squares (:func:`probe_layers`) on the frames of ``n_probe`` training utterances and
scored on the test utterances, on the features of layer ``probe_layer`` of the pre-trained model
and of the same model at its random initialisation. Full mode adds CTC
fine-tuning (:func:`finetune`, Chapter 5's ``ctc_loss_torch``, the feature
encoder frozen) on ``labelled`` utterances each, from the pre-trained weights and
from random ones: the digit error rate (DER) of best-path decoding on the test
utterances, a label-efficiency curve.

Chapter: ``notebooks/06e_wav2vec2.ipynb``.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import ctc, metrics
from ..models import wav2vec2 as w2v
from ..train import fit, length_batches, pad_batch, predict
from . import ctc_digits

__all__ = ["Config", "CONFIGS", "TINY", "GAP", "VALIDATION_EPOCH", "model_config", "Utterances", "standardise", "frame_labels", "make_part",
           "prepare", "masks_for", "collate", "build", "loss", "batches", "gumbel_temperature", "validate", "train",
           "features", "probe_layers", "probe", "CTCModel", "finetune", "evaluate"]

NAME = "wav2vec2_digits"
NOTEBOOK = "06e_wav2vec2"
TITLE = "wav2vec 2.0: self-supervised pre-training on FSDD connected digits, linear probe, CTC fine-tuning"

#: The probe's class of frames between digits.
GAP = 10
#: The masks and negatives of validation draw from ``(seed, VALIDATION_EPOCH, utterance)``: no training epoch's.
VALIDATION_EPOCH = 1_000_000


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (the notebook's quick and full sizes are in ``CONFIGS``).

    Attributes
    ----------
    n_train, n_valid, n_test : int
        Connected-digit utterances per part (Chapter 5's corpus).
    conv_dim : int
        Channels of every convolution of the feature encoder.
    hidden, layers, heads, ff : int
        The transformer: width, layers, heads, feed-forward units.
    pos_kernel, pos_groups : int
        The positional convolution: taps (frames) and groups.
    codebooks, entries, codevector_dim, proj_dim : int
        :math:`G`, :math:`V`, the width of a quantised frame, the width of the contrastive space.
    negatives : int
        Distractors :math:`K` per masked frame.
    mask_prob, mask_length : float, int
        Span masking (``wav2vec2.compute_mask_indices``).
    temperature : float
        :math:`\\kappa` of the contrastive loss.
    diversity_weight : float
        :math:`\\alpha`; 0 turns the diversity loss off (and lets the quantiser collapse).
    gumbel_start, gumbel_end : float
        The Gumbel-softmax temperature of the first and of the last epoch.
    dropout : float
        Every dropout of the transformer (attention, hidden, feed-forward), and on the features.
    epochs, batch_size : int
    lr, weight_decay, clip : float
        AdamW with a one-cycle schedule (peak ``lr``), gradients clipped to norm ``clip``.
    probe_layer : int
        Which hidden state the probe reads: 0 the transformer's input, :math:`l` the output of layer :math:`l`.
    n_probe : int
        Training utterances whose frames fit the probe.
    labelled : tuple of int
        Full mode: labelled utterances of each CTC fine-tuning run (empty: none).
    finetune_epochs : int
    finetune_lr : float
    seed : int
        Corpus-independent: initial weights, batches, masks, negatives, Gumbel noise.
    """

    n_train: int = 800
    n_valid: int = 60
    n_test: int = 150
    conv_dim: int = 32
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    ff: int = 128
    pos_kernel: int = 16
    pos_groups: int = 8
    codebooks: int = 2
    entries: int = 32
    codevector_dim: int = 64
    proj_dim: int = 64
    negatives: int = 20
    mask_prob: float = 0.5
    mask_length: int = 5
    temperature: float = 0.1
    diversity_weight: float = 0.1
    gumbel_start: float = 2.0
    gumbel_end: float = 0.5
    dropout: float = 0.0
    epochs: int = 8
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-2
    clip: float = 5.0
    probe_layer: int = 1
    n_probe: int = 200
    labelled: tuple = ()
    finetune_epochs: int = 30
    finetune_lr: float = 1e-3
    seed: int = 0


#: Quick mode: what CI and the book run on a CPU; full mode: the GPU configuration (wider, deeper, longer,
#: and the label-efficiency curve of CTC fine-tuning).
CONFIGS = {
    "quick": Config(),
    "full": Config(n_train=4000, n_valid=300, n_test=1000, conv_dim=256, hidden=256, ff=1024,
                   layers=6, pos_kernel=32, entries=64, codevector_dim=128, proj_dim=128, negatives=50,
                   dropout=0.1, epochs=40, batch_size=32, lr=1e-3, probe_layer=3, n_probe=500,
                   labelled=(10, 30, 100, 300, 1000)),
}


#: A configuration small enough for examples and tests (a few seconds on a CPU); nothing to learn from.
TINY = Config(n_train=4, n_valid=2, n_test=2, conv_dim=8, hidden=16, layers=1, heads=2, ff=16, pos_groups=2,
              entries=4, codevector_dim=8, proj_dim=8, negatives=3, epochs=1, batch_size=2, n_probe=2,
              finetune_epochs=1)


def model_config(config: Config) -> w2v.Wav2Vec2Config:
    """The model's :class:`~lessons_lib.models.wav2vec2.Wav2Vec2Config`: six convolutions for 8 kHz, 20-ms frames.

    Examples
    --------
    >>> cfg = model_config(Config())
    >>> cfg.hop, cfg.receptive_field, 8000 / cfg.hop   # samples between frames, samples seen, frames per second
    (160, 240, 50.0)
    """
    return w2v.Wav2Vec2Config(
        conv_dim=(config.conv_dim,) * 6, conv_kernel=(10, 3, 3, 3, 3, 2), conv_stride=(5, 2, 2, 2, 2, 2),
        hidden_size=config.hidden, num_hidden_layers=config.layers, num_attention_heads=config.heads,
        intermediate_size=config.ff, num_conv_pos_embeddings=config.pos_kernel,
        num_conv_pos_embedding_groups=config.pos_groups, hidden_dropout=config.dropout,
        attention_dropout=config.dropout, activation_dropout=config.dropout, feat_proj_dropout=config.dropout,
        layerdrop=0.0, mask_time_prob=config.mask_prob, mask_time_length=config.mask_length,
        num_codevector_groups=config.codebooks, num_codevectors_per_group=config.entries,
        codevector_dim=config.codevector_dim, proj_codevector_dim=config.proj_dim, num_negatives=config.negatives,
        contrastive_logits_temperature=config.temperature, diversity_loss_weight=config.diversity_weight)


@dataclass(frozen=True, eq=False)
class Utterances:
    """One part of the corpus: standardised waveforms, their lengths, transcripts and frame labels.

    Attributes
    ----------
    waves : list of Tensor, each shape (n_samples_u,), float32
    lengths : ndarray of int, shape (n_utterances,)
        Samples.
    frames : ndarray of int, shape (n_utterances,)
        Encoder frames (20 ms).
    labels : list of ndarray of int
        The digits spoken.
    frame_labels : list of ndarray of int, each shape (frames_u,)
        The digit under each frame's centre, or :data:`GAP`.
    speakers : ndarray of str, shape (n_utterances,)
    """

    waves: list
    lengths: np.ndarray
    frames: np.ndarray
    labels: list
    frame_labels: list
    speakers: np.ndarray

    def __len__(self) -> int:
        return len(self.waves)


def standardise(y: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (float32), as ``transformers``' ``Wav2Vec2FeatureExtractor(do_normalize=True)``.

    Examples
    --------
    >>> z = standardise(np.array([1.0, 2.0, 3.0]))
    >>> z.dtype, round(float(z.mean()), 6), round(float(z.std()), 3)
    (dtype('float32'), 0.0, 1.0)
    """
    y = np.asarray(y, dtype=np.float64)
    return ((y - y.mean()) / np.sqrt(y.var() + 1e-7)).astype(np.float32)


def frame_labels(boundaries: np.ndarray, digits: np.ndarray, n_frames: int, hop: int, receptive_field: int):
    """The digit whose recording covers each frame's centre, else :data:`GAP`.

    Frame :math:`t` sees samples :math:`[tH, tH + R)`; its centre is :math:`tH + (R - 1)/2`.

    Examples
    --------
    >>> frame_labels(np.array([[200, 600]]), np.array([7]), 5, 160, 240).tolist()   # centres 119.5, 279.5, ...
    [10, 7, 7, 7, 10]
    """
    centre = np.arange(n_frames) * hop + (receptive_field - 1) / 2
    inside = (centre[:, None] >= boundaries[None, :, 0]) & (centre[:, None] < boundaries[None, :, 1])
    return np.where(inside.any(axis=1), np.asarray(digits)[inside.argmax(axis=1)], GAP).astype(np.int64)


def make_part(corpus, config: Config) -> Utterances:
    """Standardised waveforms, frame counts and frame labels of a ``ConnectedDigits`` corpus.

    Examples
    --------
    >>> corpus = ctc_digits.build_corpus(2, 1, 1)["test"]
    >>> part = make_part(corpus, Config())
    >>> int(part.frames[0]) == (len(corpus.waveforms[0]) - 240) // 160 + 1, part.speakers[0] == corpus.speakers[0]
    (True, True)
    """
    mc = model_config(config)
    waves = [torch.from_numpy(standardise(y)) for y in corpus.waveforms]
    lengths = np.array([len(y) for y in corpus.waveforms])
    frames = lengths.copy()
    for kernel, stride in zip(mc.conv_kernel, mc.conv_stride):  # the encoder's convolutions, one by one
        frames = (frames - kernel) // stride + 1
    labels = [np.asarray(lab) for lab in corpus.labels]
    per_frame = [frame_labels(b, lab, int(f), mc.hop, mc.receptive_field)
                 for b, lab, f in zip(corpus.boundaries, labels, frames)]
    return Utterances(waves, lengths, frames, labels, per_frame, np.asarray(corpus.speakers))


@functools.lru_cache(maxsize=2)
def _prepare(n_train: int, n_valid: int, n_test: int, recordings: str) -> dict:
    config = Config(n_train=n_train, n_valid=n_valid, n_test=n_test)
    return {part: make_part(c, config) for part, c in ctc_digits.build_corpus(n_train, n_valid, n_test).items()}


def prepare(config: Config) -> dict:
    """The three parts (cached per process): ``"train"``, ``"valid"``, ``"test"`` :class:`Utterances`.

    Examples
    --------
    >>> parts = prepare(Config(n_train=3, n_valid=2, n_test=2))
    >>> {name: len(p) for name, p in parts.items()}
    {'train': 3, 'valid': 2, 'test': 2}
    >>> bool(all(len(fl) == f for fl, f in zip(parts["train"].frame_labels, parts["train"].frames)))
    True
    """
    from .. import data as fsdd_data

    return _prepare(config.n_train, config.n_valid, config.n_test, str(fsdd_data.find_fsdd()))


def masks_for(config: Config, frames, n_frames: int, indices, epoch: int):
    """Masks ``(B, n_frames)`` and negatives ``(B, n_frames, K)`` for utterances ``indices`` of ``frames`` frames.

    Utterance :math:`i` draws its own from ``default_rng((seed, epoch, i))``, whatever batch it is in.

    Examples
    --------
    >>> mask, negatives = masks_for(Config(), np.array([40, 30]), 40, np.array([5, 9]), epoch=0)
    >>> mask.shape, negatives.shape, bool(mask[1, 30:].any())
    (torch.Size([2, 40]), torch.Size([2, 40, 20]), False)
    """
    masks, negatives = [], []
    for b, (i, f) in enumerate(zip(indices, frames)):
        rng = np.random.default_rng((config.seed, epoch, int(i)))
        mask = w2v.compute_mask_indices((1, n_frames), config.mask_prob, config.mask_length, rng=rng, min_masks=2,
                                        lengths=[int(f)])
        masks.append(mask[0])
        negatives.append(w2v.sample_negative_indices(mask, config.negatives, rng=rng)[0] + b * n_frames)
    return torch.from_numpy(np.stack(masks)), torch.from_numpy(np.stack(negatives))


def collate(p: Utterances, indices, *, config: Config, epoch: int = 0):
    """A batch: waveforms ``(B, n_max)``, lengths ``(B,)``, masks ``(B, T)``, negatives ``(B, T, K)``.

    Examples
    --------
    >>> parts = prepare(Config(n_train=3, n_valid=2, n_test=2))
    >>> x, lengths, mask, negatives = collate(parts["train"], np.array([0, 2]), config=Config())
    >>> x.shape[1] == lengths.max().item(), mask.shape[0], negatives.shape[2]
    (True, 2, 20)
    """
    indices = np.asarray(indices)
    x, lengths = pad_batch([p.waves[i] for i in indices], batch_first=True)
    frames = p.frames[indices]
    mask, negatives = masks_for(config, frames, int(frames.max()), indices, epoch)
    return x, torch.as_tensor(p.lengths[indices]), mask, negatives


def build(config: Config) -> w2v.Wav2Vec2ForPreTraining:
    """The model, initialised from ``config.seed`` (the global random state is left alone).

    Examples
    --------
    >>> model = build(Config())
    >>> sum(p.numel() for p in model.parameters())
    104784
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return w2v.Wav2Vec2ForPreTraining(model_config(config))


def loss(model, batch) -> torch.Tensor:
    """The pre-training loss per masked frame, :math:`(\\mathcal L_m + \\alpha |\\mathcal M| \\mathcal L_d) / |\\mathcal M|`.

    Examples
    --------
    >>> batch = collate(prepare(TINY)["train"], np.array([0, 1]), config=TINY)
    >>> value = loss(build(TINY), batch)
    >>> value.ndim, bool(0 < value.item() < 10)
    (0, True)
    """
    x, lengths, mask, negatives = batch
    out = model(x, mask, negatives, lengths=lengths)
    return out.loss / mask.sum()


def batches(config: Config, p: Utterances):
    """The batches of every epoch, by length (:func:`lessons_lib.train.length_batches`), drawn from ``(seed, epoch)``.

    Examples
    --------
    >>> of_epoch = batches(TINY, prepare(TINY)["train"])
    >>> sorted(np.concatenate(of_epoch(0)).tolist()), [len(b) for b in of_epoch(0)]
    ([0, 1, 2, 3], [2, 2])
    """
    def of_epoch(epoch: int):
        return length_batches(p.lengths, config.batch_size, np.random.default_rng((config.seed, epoch)),
                              jitter=800.0)
    return of_epoch


def gumbel_temperature(config: Config, epoch: int) -> float:
    """Geometric annealing: ``gumbel_start`` in the first epoch, ``gumbel_end`` in the last.

    Examples
    --------
    >>> [round(gumbel_temperature(Config(epochs=3), e), 3) for e in range(3)]
    [2.0, 1.0, 0.5]
    """
    if config.epochs == 1:
        return config.gumbel_start
    return config.gumbel_start * (config.gumbel_end / config.gumbel_start) ** (epoch / (config.epochs - 1))


def validate(model, config: Config, p: Utterances, *, device=None) -> dict:
    """On part ``p``, eval mode: contrastive loss and accuracy per masked frame, codebook perplexity, diversity.

    The masks are those of "epoch" :data:`VALIDATION_EPOCH`, the same after every epoch. The perplexity is that of the arg-max
    codes over all masked frames of ``p`` (between :math:`G` and :math:`G V`).

    Examples
    --------
    >>> scores = validate(build(TINY), TINY, prepare(TINY)["valid"])
    >>> sorted(scores), 2 <= scores["perplexity"] <= 8
    (['accuracy', 'contrastive loss', 'diversity', 'perplexity'], True)
    """
    device = next(model.parameters()).device if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    counts = torch.zeros(config.codebooks, config.entries, dtype=torch.float64)
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for indices in length_batches(p.lengths, 32):
            batch = collate(p, indices, config=config, epoch=VALIDATION_EPOCH)
            x, lengths, mask, negatives = (t.to(device) for t in batch)
            out = model(x, mask, negatives, lengths=lengths)
            logits = w2v.contrastive_logits(out.projected_states, out.projected_quantized_states, negatives,
                                            config.temperature)[mask]
            total += float(out.contrastive_loss)
            correct += int((logits.argmax(-1) == 0).sum())
            n += int(mask.sum())
            codes = model.quantizer.weight_proj(out.encoder.extract_features[mask]).reshape(
                -1, config.codebooks, config.entries).argmax(-1)
            counts += torch.nn.functional.one_hot(codes, config.entries).sum(0).double().cpu()
    model.train(was_training)
    perplexity = float(w2v.codevector_perplexity((counts / counts.sum(-1, keepdim=True))[None]))
    return {"contrastive loss": total / n, "accuracy": correct / n, "perplexity": perplexity,
            "diversity": 1 - perplexity / (config.codebooks * config.entries)}


def train(config: Config, parts: dict, *, valid=True, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Pre-train on the unlabelled ``parts["train"]`` waveforms; returns ``(model, history)``.

    ``history.valid`` holds :func:`validate` on ``parts["valid"]`` after every epoch (``valid=False``: nothing).

    Examples
    --------
    >>> _, history = train(TINY, prepare(TINY), device="cpu", progress=False)
    >>> history.epochs, sorted(history.valid)
    (1, ['accuracy', 'contrastive loss', 'diversity', 'perplexity'])
    """
    items = parts["train"]
    model = build(config) if model is None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, pct_start=0.15,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    current = {"epoch": 0}  # fit asks for an epoch's batches before it collates them

    def epoch_batches(epoch: int):
        current["epoch"] = epoch
        model.quantizer.temperature = gumbel_temperature(config, epoch)
        return of_epoch(epoch)

    def training_collate(indices):
        return collate(items, indices, config=config, epoch=current["epoch"])

    if valid is True:
        valid = functools.partial(validate, config=config, p=parts["valid"], device=device)
    history = fit(model, loss, epoch_batches, collate=training_collate, optimizer=optimizer, scheduler=scheduler,
                  epochs=config.epochs, clip=config.clip, valid=valid or None, device=device, seed=config.seed,
                  checkpoint=checkpoint, resume=resume, progress=progress, time_budget=time_budget,
                  hparams={"recipe": NAME, **asdict(config)})
    return model, history


# --------------------------------------------------------------------------- after pre-training


def features(model, p: Utterances, layers, items=None, *, device=None) -> list:
    """Frozen features: hidden states ``layers`` of each utterance, a list of ``(len(layers), frames_u, hidden)`` arrays.

    ``model`` is a ``Wav2Vec2ForPreTraining`` or a ``Wav2Vec2``; no mask is applied. Layer 0 is the
    transformer's input, layer :math:`l` the output of its layer :math:`l` (the last one after the final
    layer norm of the pre-LN layout).

    Examples
    --------
    >>> p = prepare(TINY)["test"]
    >>> h = features(build(TINY), p, [0, 1])
    >>> h[0].shape == (2, p.frames[0], TINY.hidden)
    True
    """
    encoder = getattr(model, "wav2vec2", model)
    items = np.arange(len(p)) if items is None else np.asarray(items)
    layers = list(layers)

    def forward(m, batch):
        x, lengths = batch
        out = m(x, lengths=lengths, output_hidden_states=True)
        states = list(out.hidden_states[:-1]) + [out.last_hidden_state]
        h = torch.stack([states[layer] for layer in layers])  # (layers, batch, frames, hidden)
        return [h[:, k, : int(n)] for k, n in enumerate((~out.padding_mask).sum(1))]

    def inputs(indices):
        x, lengths = pad_batch([p.waves[i] for i in indices], batch_first=True)
        return x, torch.as_tensor(p.lengths[indices])

    return predict(encoder, forward, items, inputs, lengths=p.lengths, batch_size=32, device=device)


def probe_layers(model, config: Config, parts: dict, layers, *, device=None) -> dict:
    """Frame accuracy on the test part of a linear probe of each hidden state of ``layers``: ``{layer: accuracy}``.

    The probe is a linear classifier of 11 classes (the digits and :data:`GAP`) fitted by least squares to
    one-hot targets, with a small ridge penalty (``sklearn.linear_model.RidgeClassifier``: closed form,
    deterministic, a fraction of a second), on the frames of the first ``n_probe`` training utterances
    (features standardised with their statistics), and scored on every frame of ``parts["test"]``.

    Examples
    --------
    >>> scores = probe_layers(build(TINY), TINY, prepare(TINY), [0, 1])
    >>> sorted(scores), all(0 <= a <= 1 for a in scores.values())
    ([0, 1], True)
    """
    from sklearn.linear_model import RidgeClassifier

    layers = list(layers)
    train_items = np.arange(min(config.n_probe, len(parts["train"])))
    X = np.concatenate(features(model, parts["train"], layers, train_items, device=device), axis=1)
    y = np.concatenate([parts["train"].frame_labels[i] for i in train_items])
    X_test = np.concatenate(features(model, parts["test"], layers, device=device), axis=1)
    y_test = np.concatenate(parts["test"].frame_labels)
    scores = {}
    for k, layer in enumerate(layers):
        mean, std = X[k].mean(0), X[k].std(0) + 1e-6
        classifier = RidgeClassifier(alpha=1.0).fit((X[k] - mean) / std, y)
        scores[layer] = float(np.mean(classifier.predict((X_test[k] - mean) / std) == y_test))
    return scores


def probe(model, config: Config, parts: dict, *, device=None, layer: int | None = None) -> float:
    """Frame accuracy of the linear probe of hidden state ``layer`` (default ``config.probe_layer``), see :func:`probe_layers`.

    Examples
    --------
    >>> 0 <= probe(build(TINY), TINY, prepare(TINY)) <= 1
    True
    """
    layer = config.probe_layer if layer is None else layer
    return probe_layers(model, config, parts, [layer], device=device)[layer]


class CTCModel(torch.nn.Module):
    """A pre-trained (or fresh) :class:`~lessons_lib.models.wav2vec2.Wav2Vec2` with a linear CTC head of 11 classes.

    ``forward(x, lengths)`` → log-probabilities ``(frames, batch, 11)`` (time first, for
    ``ctc.ctc_loss_torch``), and ``frame_lengths(lengths)`` the frames of each utterance.
    """

    def __init__(self, encoder: w2v.Wav2Vec2, dropout: float = 0.1):
        super().__init__()
        self.wav2vec2 = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.lm_head = torch.nn.Linear(encoder.config.hidden_size, ctc_digits.N_CLASSES)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.wav2vec2.frame_lengths(lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        c = self.wav2vec2(x, lengths=lengths).last_hidden_state
        return self.lm_head(self.dropout(c)).log_softmax(-1).transpose(0, 1)


def finetune(encoder: w2v.Wav2Vec2, config: Config, parts: dict, n_labelled: int, *, device=None,
             progress: bool = False) -> dict:
    """CTC fine-tuning on the first ``n_labelled`` training utterances; the test DER of best-path decoding.

    The feature encoder is frozen (as in the paper); the transformer and the new head are trained with
    Chapter 5's ``ctc_loss_torch`` (AdamW, one-cycle schedule, ``finetune_epochs`` epochs, batches of 8).
    The encoder given is copied, not changed.

    Examples
    --------
    >>> result = finetune(build(TINY).wav2vec2, TINY, prepare(TINY), 2, device="cpu")
    >>> sorted(result), result["DER"] >= 0
    (['DER', 'final loss'], True)
    """
    import copy

    model = CTCModel(copy.deepcopy(encoder))
    for p in model.wav2vec2.feature_extractor.parameters():
        p.requires_grad_(False)
    train_part = parts["train"]
    items = np.arange(min(n_labelled, len(train_part)))
    targets = [torch.from_numpy(ctc_digits.to_classes(train_part.labels[i])) for i in range(len(train_part))]

    def collate_ctc(indices):
        x, lengths = pad_batch([train_part.waves[i] for i in indices], batch_first=True)
        t, t_lengths = pad_batch([targets[i] for i in indices], batch_first=True)
        return x, torch.as_tensor(train_part.lengths[indices]), t, t_lengths

    def ctc_loss(m, batch):
        x, lengths, t, t_lengths = batch
        log_probs = m(x, lengths)
        frames = model.frame_lengths(lengths)
        return ctc.ctc_loss_torch(log_probs, t, frames, t_lengths)

    batch_size = min(8, len(items))

    def of_epoch(epoch: int):
        return length_batches(train_part.lengths, batch_size, np.random.default_rng((config.seed, epoch)),
                              indices=items, jitter=800.0)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.finetune_lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.finetune_lr,
                                                    total_steps=config.finetune_epochs * len(of_epoch(0)))
    history = fit(model, ctc_loss, of_epoch, collate=collate_ctc, optimizer=optimizer, scheduler=scheduler,
                  epochs=config.finetune_epochs, clip=config.clip, device=device, seed=config.seed,
                  progress=progress)
    test = parts["test"]

    def forward(m, batch):
        x, lengths = batch
        log_probs = m(x, lengths).double()
        return [log_probs[: int(n), k] for k, n in enumerate(m.frame_lengths(lengths))]

    def inputs(indices):
        x, _ = pad_batch([test.waves[i] for i in indices], batch_first=True)
        return x, torch.as_tensor(test.lengths[indices])

    log_probs = predict(model, forward, np.arange(len(test)), inputs, lengths=test.lengths, batch_size=32,
                        device=device)
    hypotheses = ctc_digits.greedy_digits(log_probs)
    references = [lab.tolist() for lab in test.labels]
    return {"DER": metrics.error_rate(references, hypotheses), "final loss": history.loss[-1]}


def evaluate(model, config: Config, parts: dict, *, device=None) -> dict:
    """Headline numbers: linear-probe frame accuracy of pre-trained and random features; CTC DERs in full mode.

    Returns
    -------
    dict
        ``probe accuracy (pre-trained)``, ``probe accuracy (random init)``, ``valid perplexity``,
        ``valid accuracy`` (of the contrastive task), and for each ``n`` of ``config.labelled``
        ``DER pre-trained n=<n>`` and ``DER random init n=<n>``.

    Examples
    --------
    >>> sorted(evaluate(build(TINY), TINY, prepare(TINY), device="cpu"))[:2]
    ['probe accuracy (pre-trained)', 'probe accuracy (random init)']
    """
    random_model = build(config)
    results = {"probe accuracy (pre-trained)": probe(model, config, parts, device=device),
               "probe accuracy (random init)": probe(random_model, config, parts, device=device)}
    checked = validate(model, config, parts["valid"], device=device)
    results["valid perplexity"], results["valid accuracy"] = checked["perplexity"], checked["accuracy"]
    for n in config.labelled:
        results[f"DER pre-trained n={n}"] = finetune(model.wav2vec2, config, parts, n, device=device)["DER"]
        results[f"DER random init n={n}"] = finetune(random_model.wav2vec2, config, parts, n, device=device)["DER"]
    return results
