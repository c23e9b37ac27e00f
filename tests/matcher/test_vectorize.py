"""The compiled character TF-IDF fit is scikit-learn's, to the bit: the same vocabulary, weights,
matrix (entry order within each row included: the sparse products sum in it) and later transforms."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher import vectorize
from matcher.text import char_text

DATA = Path(__file__).resolve().parents[2] / "data" / "eval"


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    vectorize.enable_compiled()
    monkeypatch.setattr(vectorize, "_compiled", True)


def dev_texts() -> list[str]:
    texts = []
    for name in ("orgs.csv", "demands.csv"):
        with (DATA / name).open(encoding="utf-8") as f:
            texts += [" ".join(row.values()) for row in csv.DictReader(f)]
    return texts


def odd_texts(seed: int) -> list[str]:
    """Upper case (ASCII and not), runs of white space and single tabs, characters beyond the
    basic plane, texts shorter than an n-gram, empty ones, repeats."""
    rng = random.Random(seed)
    pieces = ["合作社", "Ab", "ÄÖ", "İ", "ß", "  ", "\t", " \n ", "𠀀𠀁", "😀", "x", "", "木耳木耳", "电商 电商"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(300)]
    return [*texts, "a", "", "ab", *texts[:20]]


def same_fit(make, docs, *, counted: bool = False) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = make(), make()
    if counted:  # the compiled counting did it, not scikit-learn behind it
        assert vectorize._count(make(), docs) is not None
    got = vectorize.fit_transform(ours, docs)
    want = theirs.fit_transform(docs)
    assert type(got) is type(want)
    for part in ("indptr", "indices", "data"):
        a, b = getattr(got, part), getattr(want, part)
        assert a.dtype == b.dtype and np.array_equal(a, b), part
    assert got.shape == want.shape
    assert ours.vocabulary_ == theirs.vocabulary_
    assert np.array_equal(ours.idf_, theirs.idf_)
    later = [*docs[::7], "没见过的文字", "合作社电商"]
    a, b = ours.transform(later), theirs.transform(later)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data)
    assert set(vars(ours)) == set(vars(theirs))


@pytest.mark.parametrize(("ngrams", "min_df", "max_df"),
                         [((2, 3), 2, 1.0), ((1, 3), 1, 1.0), ((2, 4), 0.01, 0.5), ((3, 3), 1, 40)])
def test_the_engine_corpus_fits_as_scikit_learn_fits_it(compiled: None, ngrams, min_df, max_df) -> None:  # type: ignore[no-untyped-def]
    docs = [char_text(t) for t in dev_texts()]
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=ngrams, sublinear_tf=True, min_df=min_df,
                                     max_df=max_df, dtype=np.float32), docs, counted=True)


@pytest.mark.parametrize("seed", range(4))
def test_odd_texts_fit_as_scikit_learn_fits_them(compiled: None, seed: int) -> None:
    docs = odd_texts(seed)
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, dtype=np.float32), docs, counted=True)
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, norm=None,
                                     smooth_idf=False), docs, counted=True)


@pytest.mark.parametrize(("docs", "min_df", "max_df"), [
    (["a", "b", ""], 1, 1.0),  # no text long enough for a bigram: an empty vocabulary
    (["ab", "cd"], 2, 1.0),  # no bigram in two texts: nothing left after pruning
    (["ab", "ab"], 2, 1),  # max_df below min_df
])
def test_what_scikit_learn_refuses_is_refused_the_same_way(compiled: None, docs, min_df, max_df) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as theirs:
        TfidfVectorizer(analyzer="char", ngram_range=(2, 2), min_df=min_df, max_df=max_df).fit_transform(docs)
    with pytest.raises(ValueError) as ours:
        vectorize.fit_transform(TfidfVectorizer(analyzer="char", ngram_range=(2, 2), min_df=min_df, max_df=max_df),
                                docs)
    assert str(ours.value) == str(theirs.value)


def test_other_configurations_and_processes_not_set_up_for_bulk_use_scikit_learn(
        compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [char_text(t) for t in dev_texts()[:200]]
    words = [t.split() for t in dev_texts()[:200]]
    counted: list[int] = []
    real = vectorize._count
    monkeypatch.setattr(vectorize, "_count", lambda v, d: counted.append(1) or real(v, d))
    same_fit(lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), docs)
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 3), max_features=50), docs)
    same_fit(lambda: TfidfVectorizer(analyzer=lambda tokens: tokens), words)
    assert counted == []
    monkeypatch.setattr(vectorize, "_compiled", False)
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 3)), docs)
    assert counted == []
    monkeypatch.setattr(vectorize, "_compiled", True)
    same_fit(lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 3)), docs)
    assert counted == [1]
