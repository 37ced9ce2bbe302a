"""Tracking IDs: random, well-formed, forgiving about case/dash/space, strict about typos."""
from hypothesis import given, settings, strategies as st

from bot import tracking
from bot.tracking import ALPHABET, TrackingIdError, new_tracking_id, normalize

ids = st.builds(lambda _: new_tracking_id(), st.integers())


@given(ids)
def test_generated_ids_validate_and_have_the_documented_shape(tid):
    assert tid.startswith("LPR-") and len(tid) == 11
    assert all(c in ALPHABET for c in tid[4:])
    assert normalize(tid) == tid


@given(ids, st.integers(min_value=4, max_value=10), st.sampled_from(ALPHABET))
@settings(max_examples=400)
def test_every_single_character_change_is_detected(tid, pos, char):
    if tid[pos] == char:
        return
    typo = tid[:pos] + char + tid[pos + 1:]
    try:
        normalize(typo)
    except TrackingIdError as exc:
        assert exc.reason == "checksum"
    else:
        raise AssertionError(f"{typo} accepted as a valid variant of {tid}")


@given(ids)
def test_case_dash_and_space_do_not_matter(tid):
    body = tid[4:]
    for typed in (tid.lower(), "LPR" + body, "lpr " + body.lower(), " LPR-" + body + " "):
        assert normalize(typed) == tid


def test_ids_are_not_sequential():
    batch = {new_tracking_id() for _ in range(2000)}
    assert len(batch) == 2000
    bodies = sorted(int("".join(str(ALPHABET.index(c)).zfill(2) for c in t[4:10])) for t in batch)
    gaps = {b - a for a, b in zip(bodies, bodies[1:])}
    assert len(gaps) > 1000  # no fixed stride between neighbours


def test_garbage_is_a_format_error_not_a_checksum_error():
    for text in ("", "LPR-", "LPR-12", "hello world", "LPR-!!!!!!!"):
        try:
            normalize(text)
        except TrackingIdError as exc:
            assert exc.reason == "format"
        else:
            raise AssertionError(text)


def test_find_in_text_reports_mistyped_ids():
    tid = new_tracking_id()
    assert tracking.find_in_text(f"cek status {tid.lower()} dong") == (tid, None)
    wrong = tid[:-1] + next(c for c in ALPHABET if c != tid[-1])
    assert tracking.find_in_text(f"status {wrong}") == (None, "checksum")
    assert tracking.find_in_text("tidak ada nomor di sini") == (None, None)
