"""Torch models of the deep-learning chapters, one module per model family.

===================================  =====================================================
module                               what it holds (chapter)
===================================  =====================================================
``layers``                           layers shared by several families: causal and dilated
                                     convolution, masked convolution, the gated residual
                                     unit, attention (6, 7)
``frontend``                         ``LogMel``: Chapter 1's log-mel spectrogram as a batched,
                                     differentiable ``nn.Module`` (1; the front end of 6, 7)
``recurrent``                        recurrent networks on feature frames: the LSTM digit
                                     classifier (4) and the BiLSTM-CTC recogniser (5)
``cnn``                              the CNN classics on spectrograms: AlexNet, VGG, GoogLeNet,
                                     ResNet, DenseNet, SqueezeNet with torchvision's state-dict
                                     keys; FLOPs counting; torchvision's model code as the
                                     reference (6)
``sincnet``                          SincNet: band-pass sinc filters with learned cut-offs on
                                     raw audio, and the speaker-identification network (6)
``wav2vec2``                         wav2vec 2.0: convolutional feature encoder, transformer,
                                     span masking, product quantiser, contrastive and
                                     diversity losses; ``from_transformers`` (6)
``audio_spectrogram_transformer``    the Audio Spectrogram Transformer:
                                     overlapping patches, CLS and distillation tokens;
                                     ``from_transformers`` (6)
``pixelcnn``                         PixelCNN and the gated PixelCNN on integer images:
                                     sampling, bits per dimension, the blind spot
                                     measured from input gradients (7)
``wavenet``                          WaveNet: gated dilated causal convolutions over
                                     mu-law classes, conditioning upsamplers, fast
                                     generation with queues; ``from_wavenet_vocoder`` (7)
``parallel_wavenet``                 Parallel WaveNet: a Gaussian WaveNet teacher, the IAF
                                     student, density distillation (closed-form and Monte
                                     Carlo KL) and the power loss (7)
``flows``                            normalizing flows: ActNorm, invertible 1x1 convolution
                                     (plain and LU), affine and additive coupling,
                                     permutations, squeezes; RealNVP and Glow (7)
``waveglow``                         flow vocoders: WaveGlow (WN couplings, early outputs,
                                     the published 87.9 M-parameter size) and FloWaveNet
                                     (context blocks, non-causal WaveNet couplings) (7)
===================================  =====================================================

Models hold no device code and no training code: ``lessons_lib.train.fit``
moves batches to the device and runs the optimisation, and a recipe in
``lessons_lib.recipes`` combines a model, its data and its loss. Tensors are
``(batch, channels, time)`` for convolutional models and, as in PyTorch's
recurrent layers, ``(time, batch, features)`` for the recurrent ones; each
``forward`` says which.

Chapter: ``notebooks/04c_lstm_digits.ipynb`` (first used); Chapters 6 and 7.
"""
