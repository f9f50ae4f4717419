"""Chapter 09: the BERT-LSTM data challenge: encoder -> LSTM -> linear, its padding bug measured, scored submissions.

Modules, in reading order (each is a section of the chapter):

* :mod:`.challenge`: the challenge folder (``training/``, ``test/``, ``training_labels.json``) built from the
  shipped VADER sentences, the test labels kept apart; reading one back, with clear errors.
* :mod:`.encoder`: the source's ``intfloat/e5-base-v2`` where a hub is reachable, else the packaged MiniLM, said so.
* :mod:`.padding`: the model trained with ``outputs[:, -1]`` (the bug) and with the last real position, measured:
  accuracy in batches of different padding, the drift of one text's prediction as padding is added.
* :mod:`.scoring`: the ``id,label`` submission written and checked, accuracy and macro-F1 against the held labels.
* :mod:`.cli`: ``textrnn-lab challenge make`` and ``textrnn-lab challenge score``.

The model itself is chapter 02's :mod:`textrnn_lab.transfer.encoder_rnn` (frozen encoder token states -> RNN ->
linear, read at each text's last real token), imported, not copied.
"""
from ..transfer.encoder_rnn import EncoderRNNClassifier, EncoderRNNConfig, EncoderRNNTrainConfig, RNNHead
from .challenge import ChallengeData, ChallengePaths, make_challenge, read_challenge, read_labels_file
from .encoder import SOURCE_ENCODER, ChallengeEncoder, load_challenge_encoder
from .padding import BERT_LSTM, ReadoutRun, flip_rate, padding_drift, shuffled_proba, train_readout
from .scoring import (
    Score,
    SubmissionError,
    accuracy,
    macro_f1,
    per_class_scores,
    read_submission,
    score_submission,
    write_submission,
)

__all__ = [
    "BERT_LSTM", "SOURCE_ENCODER", "ChallengeData", "ChallengeEncoder", "ChallengePaths", "EncoderRNNClassifier",
    "EncoderRNNConfig", "EncoderRNNTrainConfig", "RNNHead", "ReadoutRun", "Score", "SubmissionError", "accuracy",
    "flip_rate", "load_challenge_encoder", "macro_f1", "make_challenge", "padding_drift", "per_class_scores",
    "read_challenge", "read_labels_file", "read_submission", "score_submission", "shuffled_proba", "train_readout",
    "write_submission",
]
