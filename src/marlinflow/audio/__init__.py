"""A video's sound on the frame clock of its face clip: decoding, log-mel spectrograms, and the
mel steps of each clip frame.

- :mod:`marlinflow.audio.mel`: the spectrogram of the lip-sync protocol (Wav2Lip's: 16 kHz,
  80 mel bands, hop 200 samples, i.e. 80 mel steps a second, log magnitude in [-4, 4]).
- :mod:`marlinflow.audio.clock`: read a video's audio (PyAV), give every clip frame its time
  (constant or variable frame rate, the audio stream's start against the video's) and its mel
  step; :class:`~marlinflow.audio.clock.AlignedMel` cuts the mel window of a window of frames.
- :mod:`marlinflow.audio.step`: the per-video ``audio`` stage, whose record says ``no_audio``
  for a video without sound or with less sound than frames.
"""
