"""From-scratch implementations for the course *Speech ML from Scratch*.

The package mirrors the book: one module per concept, named for it, so that a
reader who finishes a chapter finds everything it built in one place.

==================  =====================================================
module              what it holds (chapter)
==================  =====================================================
``config``          quick/full mode switch, device choice, seeding (all)
``data``            the Free Spoken Digit Dataset loader, its splits, connected digits (0, 5)
``audio``           reading, writing and resampling audio (0)
``notebook``        showing library source and result tables in a notebook (all)
``plots``           spectrograms on true time/frequency axes, confusion matrices (1-5)
``sampling``        tones, aliasing, quantization and its SNR (1); mu-law companding (7)
``fourier``         the DFT as a matrix; the FFT (radix-2 and Bluestein) (1)
``spectral``        windows, framing, STFT and ISTFT, decibels (1); Griffin-Lim (7)
``mel``             the mel scale, mel filterbank, mel spectrogram (1)
``features``        pre-emphasis, DCT, MFCC, deltas, CMVN, 39-dim frames (1)
``logspace``        log-sum-exp: sums of probabilities kept as logs (2)
``gmm``             Gaussian densities, k-means, Gaussian mixtures by EM (2)
``hmm``             forward, backward, Viterbi, Baum-Welch; HMM classes (3)
``nn``              softmax, losses, entropy and KL, an MLP with hand-written gradients (4)
``rnn``             Elman RNN, LSTM, GRU forward and backward through time, clipping (4)
``ctc``             CTC paths, loss and gradient, greedy and beam decoding, alignment (5)
``conv``            convolution, pooling and batch norm forward and backward; receptive fields (6)
``augment``         SpecAugment's time and frequency masks, time shift, noise mixed at an exact SNR (6)
``voices``          an unseen-voice test set: the ten digits spoken by espeak-ng's voices, made offline (6)
``metrics``         accuracy, confusion matrix, edit distance, error rates (3-5)
``quality``         a vocoder's output against the original: log-spectral and multi-resolution
                    STFT distances; PESQ-NB and STOI (7)
``train``           one training loop, ``fit``, for every network; batches of similar length,
                    padding, ``predict``; the recipes' command line (4-7)
``checkpoint``      checkpoints that survive a crash: safetensors tensors, JSON state,
                    atomic writes (4-7)
``models``          subpackage: torch models, one module per model family, and shared layers (4-7)
``recipes``         subpackage: one module per trained model (data, model, loss, quick and full
                    configs), run by notebooks and by ``python -m lessons_lib.train`` (4-7)
==================  =====================================================

Array conventions, followed everywhere in the package
------------------------------------------------------
* A waveform is a 1-D float array, ``shape (n_samples,)``, with values in
  ``[-1, 1)`` (16-bit PCM divided by 32768, as soundfile and librosa read it).
* A spectrogram has frequency on the first axis and time on the second,
  ``shape (n_freq, n_frames)``, exactly as librosa returns it.
* A sequence of feature frames has time on the first axis,
  ``shape (n_frames, n_features)``, exactly as scikit-learn and hmmlearn
  expect it. Converting a spectrogram into frames is therefore an explicit
  ``.T`` at the boundary between the two worlds.
* Probabilities that can underflow are kept in log space and their names say
  so (``log_alpha``, ``log_prob``).
* Randomness enters through an explicit ``rng`` (:class:`numpy.random.Generator`)
  or ``generator`` (:class:`torch.Generator`) argument; the library never seeds
  global state except in :func:`lessons_lib.config.seed_everything`, which a
  notebook calls on purpose.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
