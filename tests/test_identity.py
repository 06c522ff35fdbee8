"""One owner id per signed-in person (explorer.access.identity), whichever door signed them in."""
import pytest

from explorer.access.identity import is_signed_in_owner, owner_for


def test_the_same_person_is_the_same_owner_and_issuers_keep_subjects_apart():
    a = owner_for("https://accounts.google.com", "1234")
    assert a == owner_for("https://accounts.google.com", " 1234 ")
    assert a != owner_for("https://login.microsoftonline.com/t/v2.0", "1234")
    assert len(a) <= 64 and is_signed_in_owner(a)  # fits the store's owner columns
    assert "1234" not in a  # no personal data in the id
    assert not is_signed_in_owner("0" * 32) and not is_signed_in_owner(None)


@pytest.mark.parametrize("issuer, subject", [("", "1"), ("https://idp", "")])
def test_an_identity_without_issuer_or_subject_is_refused(issuer, subject):
    with pytest.raises(ValueError, match="issuer and a subject"):
        owner_for(issuer, subject)
