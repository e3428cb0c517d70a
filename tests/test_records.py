"""The write layer called as the command line or a later feature would: with its inputs as
arguments, outside any request, on every backend."""

import pytest

from helpers import POOLED, SONG
from songs import records
from songs.conditional import Preconditions, song_etag
from songs.problems import Problem

pytestmark = POOLED  # the storage contract: every backend, through PgBouncer too


def test_a_song_is_added_once_per_idempotency_key_and_says_when_it_was_replayed(database):
    first, replayed_first = records.add_song(database, SONG, key="k-1")
    again, replayed_again = records.add_song(database, SONG, key="k-1")

    assert (replayed_first, replayed_again) == (False, True)
    assert again == first
    with pytest.raises(Problem) as refused:
        records.add_song(database, {**SONG, "rating": 5}, key="k-1")
    assert refused.value.status_code == 422


def test_a_change_is_judged_against_the_preconditions_given(database):
    song, _ = records.add_song(database, SONG)
    stale = Preconditions(if_match='"not-its-etag"')

    with pytest.raises(Problem) as failed:
        records.change_song(database, song["id"], {"rating": 5}, stale)
    with pytest.raises(Problem) as required:
        records.change_song(database, song["id"], {"rating": 5}, Preconditions(required=True))
    changed = records.change_song(
        database, song["id"], {"rating": 5}, Preconditions(if_match=song_etag(song))
    )

    assert (failed.value.status_code, required.value.status_code) == (412, 428)
    assert changed["rating"] == 5
    assert records.change_song(database, song["id"], {"rating": 5}) == changed  # nothing to do


def test_a_delete_returns_the_song_it_removed_and_a_second_one_is_a_404(database):
    song, _ = records.add_song(database, SONG)

    assert records.delete_song(database, song["id"]) == song
    with pytest.raises(Problem) as missing:
        records.delete_song(database, song["id"])
    assert missing.value.status_code == 404
