"""Lip synchronisation: a lip-sync expert whose visual stream is the MARLIN encoder, the
in-sync and shifted pairs it learns from, and the search for a video's audio-visual offset.

The expert follows Wav2Lip's (Prajwal et al. 2020): a face embedding and an audio embedding,
their cosine similarity read as the probability that face and sound are in sync, trained with
binary cross-entropy on in-sync windows against windows of the same video shifted in time. Here
the face stream is a MARLIN encoder (frozen, or fine-tuned with the rest), so its window is the
encoder's clip: ``n_frames`` consecutive frames of the aligned full face (sample rate 1, not the
2 of feature extraction: lip motion is fast), with the mel steps of the same span of time
(16 frames at 25 fps: 0.64 s, 51 steps; Wav2Lip's expert sees the lower half of 5 frames and
16 steps). The full face is kept because it is what the encoder was pretrained on.

- :mod:`~marlinflow.lipsync.expert`: the networks (plain ``nn.Module``\\ s) and the loss;
- :mod:`~marlinflow.lipsync.pairs`: videos with their aligned mel, and batches of pairs;
- :mod:`~marlinflow.lipsync.offset`: the offset search over ±15 frames and the metrics;
- :mod:`~marlinflow.lipsync.train`: training the expert, scoring it on held-out videos, its file;
- :mod:`~marlinflow.lipsync.generator`: the Wav2Lip-style generator (and its discriminator) and
  its losses; :mod:`~marlinflow.lipsync.generate`: training it against the frozen expert, and
  generating whole videos;
- :mod:`~marlinflow.lipsync.syncnet`: SyncNet, and LSE-D / LSE-C as Wav2Lip's evaluation
  computes them; :mod:`~marlinflow.lipsync.fid`: FID; :mod:`~marlinflow.lipsync.evaluate`: a
  generator scored on held-out videos;
- :mod:`~marlinflow.lipsync.files`: the expert's and the generator's self-describing files.
"""
