"""Chapter 05: out-of-vocabulary words, word2vec against FastText, and word vectors put to work.

Modules, in reading order (each is a section of the chapter):

* :mod:`.corpora`: the shipped novels and gensim's news stories as lists of word lists.
* :mod:`.train`: word2vec and FastText trained with gensim from one ``VectorConfig``.
* :mod:`.glove`: GloVe 6B 50-d, the pre-trained static reference, from its PyPI package.
* :mod:`.subwords`: FastText's character n-grams with their ``<`` ``>`` markers, and an unseen word's vector.
* :mod:`.neighbours`: cosine nearest neighbours, ranks, and a lookup that says why a word has no vector.
* :mod:`.misspell`: seeded misspellings (swap, drop, double a letter) and how close each model lands them.
* :mod:`.analogies`: analogy accuracy on gensim's ``questions-words.txt``, with the coverage beside it.
* :mod:`.contextual`: a static vector for "bank" against the encoder's vectors of it in context.
* :mod:`.classify`: a sentiment classifier on the mean word vector, and the bag-of-words baseline.

Words come from :func:`textrnn_lab.data.vocab.word_tokens` and ids from
:class:`textrnn_lab.data.vocab.WordVocab` (re-exported here); the encoder is
:func:`textrnn_lab.layers.pretrained.load_encoder`. gensim, transformers and
scikit-learn are imported inside the functions that need them.
"""
from ..data.vocab import WordVocab, word_tokens
from .analogies import Analogy, AnalogyResult, analogies_path, analogy_accuracy, read_analogies
from .classify import (
    ClassifierConfig,
    ClassifierResult,
    MeanEmbeddingClassifier,
    SentimentSplit,
    bag_of_words_accuracy,
    embedding_matrix,
    oov_rate,
    seed_gap,
    sentiment_split,
    train_classifier,
)
from .contextual import cosine_matrix, word_in_context, word_pieces
from .corpora import CORPORA, corpus_sentences, count_words, split_sentences, training_sentences
from .glove import glove_files, load_glove
from .misspell import (
    EDITS,
    Misspelling,
    edits1,
    evaluate_misspellings,
    frequent_words,
    make_misspellings,
    misspell,
    spelling_candidates,
    summarise_ranks,
)
from .neighbours import cosine_top_k, in_vocabulary, lookup, nearest_words, rank_of, ranks_of, unit_rows
from .subwords import char_ngrams, gensim_ngrams, ngram_row, ngram_table, oov_vector
from .train import VectorConfig, train_fasttext, train_vectors, train_word2vec

__all__ = [
    "CORPORA", "EDITS", "Analogy", "AnalogyResult", "ClassifierConfig", "ClassifierResult", "MeanEmbeddingClassifier",
    "Misspelling", "SentimentSplit", "VectorConfig", "WordVocab", "analogies_path", "analogy_accuracy",
    "bag_of_words_accuracy", "char_ngrams", "corpus_sentences", "cosine_matrix", "cosine_top_k", "count_words",
    "edits1", "embedding_matrix", "evaluate_misspellings", "frequent_words", "gensim_ngrams", "glove_files",
    "in_vocabulary", "load_glove", "lookup", "make_misspellings", "misspell", "nearest_words", "ngram_row",
    "ngram_table", "oov_rate", "oov_vector", "rank_of", "ranks_of", "read_analogies", "seed_gap", "sentiment_split",
    "spelling_candidates", "split_sentences", "summarise_ranks", "train_classifier", "train_fasttext",
    "train_vectors", "train_word2vec", "training_sentences", "unit_rows", "word_in_context", "word_pieces",
    "word_tokens",
]
