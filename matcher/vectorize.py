"""Character TF-IDF fitted with its counting compiled: scikit-learn's ``TfidfVectorizer.fit_transform``
for ``analyzer="char"``, the same matrix to the bit, without its Python loop over every n-gram.

scikit-learn counts n-grams one dict lookup at a time (``CountVectorizer._count_vocab``): at Jilin
scale (40,000 texts, 2.6 million n-grams) that loop was most of the vectorize stage. Here a compiled
kernel (``matcher._ngrams``) counts them and scikit-learn's own ``TfidfTransformer`` weighs them;
the vectorizer is left fitted as its ``fit_transform`` leaves it, so its ``transform`` (the
incremental path) works unchanged. The matrix keeps scikit-learn's column order (n-grams sorted by
name) and, within each row, its entry order (the n-grams' first appearance in the corpus): the later
sparse products sum in that order, so the same floats come out of them
(``tests/matcher/test_vectorize.py`` holds every array equal).

Only in a process set up to match in bulk (``enable_compiled``, from
``matcher.candidates.prepare_bulk``), where numba is loaded anyway; elsewhere, and for any other
configuration (another analyzer, stop words, ``max_features``, ...), scikit-learn does it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

_KEY_LIMIT = 2**63  # n-gram keys are int64
_compiled = False


def enable_compiled() -> None:
    """Count with the compiled kernels from now on in this process (loading them now)."""
    global _compiled
    _compiled = True
    fit_transform(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)), ["ab", "ba"])  # every kernel, once


def fit_transform(vectorizer: TfidfVectorizer, docs: Sequence[Any]) -> sp.csr_matrix:
    """``vectorizer.fit_transform(docs)``, counted by the compiled kernels where they apply."""
    counted = _count(vectorizer, docs) if _compiled and _plain_char(vectorizer) else None
    if counted is None:
        return vectorizer.fit_transform(docs)
    vocabulary, counts = counted
    vectorizer.fixed_vocabulary_ = False
    vectorizer.vocabulary_ = vocabulary
    tfidf = TfidfTransformer(norm=vectorizer.norm, use_idf=vectorizer.use_idf, smooth_idf=vectorizer.smooth_idf,
                             sublinear_tf=vectorizer.sublinear_tf)
    tfidf.fit(counts)
    vectorizer._tfidf = tfidf  # where TfidfVectorizer.fit_transform keeps it; transform reads it
    return tfidf.transform(counts, copy=False)


def _plain_char(v: TfidfVectorizer) -> bool:
    """Character n-grams whose fit is only counting, document frequencies and sorting by name."""
    return (v.analyzer == "char" and v.strip_accents is None and v.vocabulary is None and v.max_features is None
            and not v.binary and v.input == "content" and v.preprocessor is None)


def _count(vectorizer: TfidfVectorizer, docs: Sequence[Any]) -> tuple[dict[str, int], sp.csr_matrix] | None:
    """The vocabulary and count matrix ``CountVectorizer.fit_transform`` makes, or None where
    scikit-learn should decide (including each case it rejects with an error)."""
    from matcher import _ngrams

    if len(docs) == 0 or not all(isinstance(d, str) for d in docs):
        return None
    min_n, max_n = vectorizer.ngram_range
    pre = vectorizer.build_preprocessor()  # lower-casing, as the analyzer does
    white = vectorizer._white_spaces  # runs of white space made one, as the analyzer does
    texts = [white.sub(" ", pre(d)) for d in docs]
    try:
        code = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # a lone surrogate
        return None
    # Characters ranked by code point from 1 (0 pads a shorter n-gram): keys then sort as strings do.
    present = np.bincount(code, minlength=1) > 0
    if len(code) == 0 or present[0]:  # a NUL would read as padding
        return None
    alphabet = np.flatnonzero(present)
    base = len(alphabet) + 1
    if min_n < 1 or min_n > max_n or base ** max_n >= _KEY_LIMIT:
        return None
    rank = (np.cumsum(present) * present)[code].astype(np.int64)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.cumsum(lengths) - lengths
    # Where each document's n-grams start among all emitted ones.
    row_ptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(sum(np.maximum(lengths - n + 1, 0) for n in range(min_n, max_n + 1)), out=row_ptr[1:])
    if row_ptr[-1] == 0:
        return None  # scikit-learn's error: an empty vocabulary
    ids, keys = _ngrams.ngram_ids(rank, starts, lengths, row_ptr[-1], min_n, max_n, base)
    indptr, row_ids, counts = _ngrams.row_counts(ids, row_ptr, len(keys))
    df = np.bincount(row_ids, minlength=len(keys))
    n_docs = len(texts)
    high = vectorizer.max_df if isinstance(vectorizer.max_df, Integral) else vectorizer.max_df * n_docs
    low = vectorizer.min_df if isinstance(vectorizer.min_df, Integral) else vectorizer.min_df * n_docs
    kept = (df <= high) & (df >= low)
    if high < low or not kept.any():
        return None  # scikit-learn's errors
    # Columns by name among the kept n-grams; rows keep their first-appearance order (ids).
    by_name = np.argsort(keys, kind="stable")
    kept_by_name = kept[by_name]
    column = np.empty(len(keys), dtype=np.int64)
    column[by_name] = np.cumsum(kept_by_name) - 1
    keep = kept[row_ids]
    row_len = np.diff(indptr)
    rows = np.repeat(np.arange(n_docs), row_len)
    new_indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n_docs), out=new_indptr[1:])
    if new_indptr[-1] > np.iinfo(np.int32).max:
        return None
    matrix = sp.csr_matrix((counts[keep].astype(vectorizer.dtype), column[row_ids[keep]].astype(np.int32),
                            new_indptr.astype(np.int32)), shape=(n_docs, int(kept.sum())))
    # The kept n-grams' names, from their keys' digits (a 0 digit ends a shorter n-gram).
    named = keys[by_name[kept_by_name]]
    digits = np.empty((len(named), max_n), dtype=np.int64)
    for j in range(max_n - 1, -1, -1):
        digits[:, j] = named % base
        named = named // base
    chars = np.concatenate([[0], alphabet]).astype(np.uint32)[digits]
    names = np.ascontiguousarray(chars).view(f"<U{max_n}").ravel().tolist()  # numpy drops the trailing NULs
    return dict(zip(names, range(len(names)), strict=True)), matrix
