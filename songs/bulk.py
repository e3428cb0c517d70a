"""Many songs at once on the songs page: the rows ticked (or every row of the page) are
deleted, after a confirmation, or given one rating, in one transaction. Each row's ETag
travels with the selection (songs/rows.py), so a song changed or deleted since the page was
shown is left as it is, and the person is told which. A deleted song comes back from
Recently deleted, one by one (songs/pages.py)."""

import re

from songs.access import author, connection, database
from songs.pages import render
from songs.problems import Problem
from songs.records import delete_songs, rate_songs
from songs.sessions import local_path, read_form, require_writing
from songs.storage import find_songs
from songs.validation import decimal_digits

PICKED = re.compile(r"(pick|etag)-([1-9][0-9]{0,17})")
HEX_ETAG = re.compile(r"[0-9a-f]{32}")


def selected_songs_page():
    """POST /songs/selected: `action` delete (then, with `confirmed`, the delete) or rate."""
    form = read_form()
    require_writing()
    back = local_path(form.get("back"))
    versions = selection(form)
    action = form.get("action")
    if action not in ("delete", "rate"):
        raise Problem(400, "Choose what to do with the selected songs: delete, or set a rating.")
    if not versions:
        return render("bulk", 422, back=back, error="Select at least one song first.")
    if action == "rate":
        rating = decimal_digits(form.get("rating", ""))
        if rating is None or not 1 <= rating <= 5:
            return render("bulk", 422, back=back, error="Choose a rating from 1 to 5 first.")
        done, refused = rate_songs(database(), versions, rating, author())
        return render("bulk", back=back, action=action, done=done, refused=refused, rating=rating)
    if form.get("confirmed") != "1":
        found = find_songs(connection(), [song_id for song_id, _ in versions])
        shown = [(found[song_id], etag) for song_id, etag in versions if song_id in found]
        return render("bulk", back=back, action="confirm", shown=shown)
    done, refused = delete_songs(database(), versions, author())
    return render("bulk", back=back, action=action, done=done, refused=refused)


def selection(form):
    """The (song id, ETag) of each row ticked, or of every row with `all`; a row without its
    ETag, or with one that is not ours, is no selection."""
    picked, etags = set(), {}
    for name, value in form.items():
        match = PICKED.fullmatch(name)
        if match and match[1] == "pick":
            picked.add(int(match[2]))
        elif match and HEX_ETAG.fullmatch(value):
            etags[int(match[2])] = f'"{value}"'
    chosen = etags.keys() if form.get("all") == "1" else picked & etags.keys()
    return sorted(((song_id, etags[song_id]) for song_id in chosen), reverse=True)
