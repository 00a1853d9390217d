"""Token-task rates chosen from the training data (issue 16, item 5)."""

import keras
import pytest
from test_token_classifier import TAGS
from test_token_classifier import toy_tagged

import tlnlp_tf as tl
from tlnlp_tf.tasks import token_rates
from tlnlp_tf.tasks.token_data_profile import token_data_profile


@pytest.fixture
def tagger(tiny_preset):
    keras.utils.set_random_seed(0)
    return tl.TokenClassifier.from_backbone(tiny_preset, tags=TAGS)


def test_profile_counts_by_hand(tagger):
    tokenizer = tagger.preprocessor.tokenizer
    words = [["ann", "was", "in", "paris", "."], ["was", "in", "."]]
    tags = [["B-PER", "O", "O", "B-LOC", "O"], ["O", "O", "O"]]
    profile = token_data_profile(tokenizer, words, tags)
    # 2 of 8 words are inside entities; 2 entities in 2 sentences; pieces
    # a ##n ##n, was, i ##n, p ##a ##r ##i ##s, ., was, i ##n, . = 16 for 8 words.
    assert profile == {
        "sentences": 2,
        "words_per_sentence": 4.0,
        "entity_density": 0.25,
        "entities_per_sentence": 1.0,
        "subwords_per_word": 2.0,
        "unknown_share": 0.0,
    }
    # An I- after O starts an entity too (IOB1); an unknown word's first piece is [UNK].
    profile = token_data_profile(tokenizer, [["zzz☃", "ann"]], [["O", "I-PER"]])
    assert profile["entities_per_sentence"] == 1.0
    assert profile["unknown_share"] == 0.5
    # A sample smaller than the data is spread over it, not its first sentences.
    words, tags = [["was", "ann"]] * 4, [["O", "O"]] * 2 + [["O", "B-PER"]] * 2
    profile = token_data_profile(tokenizer, words, tags, sample=2)
    assert profile["sentences"] == 4 and profile["entity_density"] == 0.25


def test_first_fit_chooses_the_rates_from_its_data(tagger, monkeypatch):
    seen = {}

    def rule(profile, updates, *base):
        seen.update(profile=profile, updates=updates)
        return {"learning_rate": 3e-5, "layer_decay": None, "reason": "test rule"}

    monkeypatch.setattr(
        "tlnlp_tf.tasks.token_classifier.choose_token_rates", rule, raising=True
    )
    data = toy_tagged(48).to_dataset().batch(8)
    tagger.fit(data, epochs=2, verbose=0)
    assert seen["updates"] == 12  # 6 batches, 2 epochs
    assert seen["profile"]["sentences"] == 48
    assert seen["profile"]["entity_density"] > 0.3
    assert tagger.rates_choice["reason"] == "test rule"
    assert tagger.optimizer._learning_rate.peak == pytest.approx(3e-5)
    assert not tagger.optimizer.multipliers  # no layer decay
    assert tagger.default_learning_rate() == pytest.approx(3e-5)
    # A second fit keeps its optimizer: no new choice.
    seen.clear()
    tagger.fit(data, epochs=1, verbose=0)
    assert not seen


def test_explicit_rates_and_frozen_backbones_are_not_chosen(tagger, monkeypatch):
    def rule(profile, updates, *base):
        raise AssertionError("the rule must not run")

    monkeypatch.setattr("tlnlp_tf.tasks.token_classifier.choose_token_rates", rule)
    data = toy_tagged(16).to_dataset().batch(8)
    tagger.compile(learning_rate=1e-3, layer_decay=None)
    tagger.fit(data, epochs=1, verbose=0)
    assert not hasattr(tagger, "rates_choice")
    assert tagger.optimizer._learning_rate.peak == pytest.approx(1e-3)
    tagger.set_freeze("all")
    tagger.compile()
    tagger.fit(data, epochs=1, verbose=0)
    assert not hasattr(tagger, "rates_choice")


def test_only_an_auto_layer_decay_is_chosen(tagger, monkeypatch):
    def rule(profile, updates, *base):
        return {"learning_rate": 3e-5, "layer_decay": 0.5, "reason": "test rule"}

    monkeypatch.setattr("tlnlp_tf.tasks.token_classifier.choose_token_rates", rule)
    tagger.compile(learning_rate=1e-3)  # layer_decay stays "auto"
    tagger.fit(toy_tagged(16).to_dataset().batch(8), epochs=1, verbose=0)
    assert tagger.optimizer._learning_rate.peak == pytest.approx(1e-3)
    assert min(tagger.optimizer.multipliers.values()) == pytest.approx(0.5**3)
    # the choice says the rate that trains, and where it came from
    assert tagger.rates_choice["learning_rate"] == 1e-3
    assert tagger.rates_choice["layer_decay"] == 0.5
    assert tagger.rates_choice["reason"].startswith("learning_rate from compile; ")


def test_token_features_keep_the_class_defaults(tagger):
    data = tagger.tokenize_once(toy_tagged(16).to_dataset()).batch(8)
    tagger.fit(data, epochs=1, verbose=0)
    assert not hasattr(tagger, "rates_choice")
    assert tagger.optimizer._learning_rate.peak == pytest.approx(
        tagger.small_backbone_learning_rate
    )


def test_sparse_entities_need_more_updates_at_the_same_rate():
    def choose(density):
        profile = {"entity_density": density, "unknown_share": 0.0}
        return token_rates.choose_token_rates(profile, 321, min_updates=300)

    dense, conll, sparse, empty = choose(0.4), choose(0.17), choose(0.058), choose(0)
    assert dense["min_updates"] == conll["min_updates"] == 300
    assert sparse["min_updates"] == 880  # 300 * 0.17 / 0.058, to tens
    assert empty["min_updates"] == 1500  # at most 5 times
    rates = {(c["learning_rate"], c["layer_decay"]) for c in (dense, sparse, empty)}
    assert rates == {(2e-4, 0.9)}
    assert "at least 880 updates instead of 300" in sparse["reason"]
    assert sparse["updates_evidence"] and dense["updates_evidence"] is None


def test_the_choice_sets_the_update_minimum_fit_warns_below(tagger):
    # 1 of 20 words in entities (5%): more than 300 updates are needed.
    words = [["was", "in", "."] * 6 + ["ann", "was"]] * 5
    tags = [["O"] * 18 + ["B-PER", "O"]] * 5
    data = tl.data.TaggedSentences(words, tags).to_dataset().batch(5)
    with pytest.warns(UserWarning, match="fewer than the 1020 ") as caught:
        tagger.fit(data, epochs=1, verbose=0)
    assert tagger.min_updates == 1020 and tagger.rates_choice["min_updates"] == 1020
    assert any("5.8% of words in entities" in str(w.message) for w in caught)
    assert "5.0% of words in entities" in tagger.rates_choice["reason"]
    assert tl.TokenClassifier.min_updates == 300  # the class keeps its base


def test_a_vocabulary_that_misses_the_language_is_warned_about():
    with pytest.warns(UserWarning, match="61% of the training words start"):
        token_rates.choose_token_rates({"unknown_share": 0.61}, 321)
