"""Seeds a running Civitas for the Schemathesis run, over its JSON API.

A register letter's activation code enrolls a citizen at level 2 with a
software passkey (P-256, "none" attestation, as the authenticator in
load/src/authenticator.rs makes them); the citizen accepts the first
administrator's invitation, then invites itself as registrar of every
top-level region and as auditor, so the session reaches every staff
endpoint. Three more citizens enroll on their own and ask to be
verified, and one more attempt with the first citizen's details opens a
possible-duplicate case: the registrar's queues are not empty.

Prints one JSON object: the session cookie, its citizen's national ID and
the origin the state-changing requests must send.

Usage: seed.py URL ACTIVATION_CODE BIRTH_DATE ADMIN_INVITATION_TOKEN
"""

import base64
import hashlib
import json
import os
import sys
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

TOP_REGIONS = ["CAP", "NTH", "STH", "EST", "WST"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cbor(value) -> bytes:
    """The CBOR of the few types a WebAuthn attestation uses."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
        raise ValueError(f"{n} is too large for CBOR")

    if isinstance(value, bool) or value is None:
        raise TypeError("not used in WebAuthn attestations")
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__}")


class Browser:
    """A browser at the issuer's origin with a platform authenticator."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.origin = self.base
        self.rp_id = urlsplit(self.base).hostname
        self.http = requests.Session()
        self.http.headers["Origin"] = self.origin
        self.key = None
        self.credential_id = None

    def post(self, path: str, body: dict, expect: int) -> dict:
        response = self.http.post(self.base + path, json=body, timeout=30)
        if response.status_code != expect:
            sys.exit(f"seed: POST {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def create(self, options: dict) -> dict:
        """Answers WebAuthn creation options with a new resident ES256 credential."""
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                         -3: numbers.y.to_bytes(32, "big")})
        rp_id = options.get("rp", {}).get("id", self.rp_id)
        flags = 0x01 | 0x04 | 0x40  # user present, user verified, attested data
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                     + (0).to_bytes(4, "big") + bytes(16)
                     + len(self.credential_id).to_bytes(2, "big") + self.credential_id
                     + cose_key)
        client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"],
                                  "origin": self.origin, "crossOrigin": False},
                                 separators=(",", ":"))
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64(client_data.encode()),
                         "attestationObject": b64(attestation),
                         "transports": ["internal"]},
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def enroll(self, form: dict) -> dict:
        started = self.post("/api/v1/enrollment/start", form, 200)
        credential = self.create(started["publicKey"])
        return self.post("/api/v1/enrollment/finish",
                         {"ceremony_id": started["ceremony_id"], "credential": credential}, 201)

    def accept(self, token: str) -> None:
        self.post("/api/v1/staff/invitations/accept", {"token": token}, 200)


def token_of(url: str) -> str:
    return url.split("#", 1)[1]


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, code, birth_date, admin_token = sys.argv[1:]

    staff = Browser(base)
    staff_started = staff.post("/api/v1/enrollment/start",
                               {"activation_code": code, "birth_date": birth_date}, 200)
    record = staff_started["record"]
    credential = staff.create(staff_started["publicKey"])
    enrolled = staff.post("/api/v1/enrollment/finish",
                          {"ceremony_id": staff_started["ceremony_id"], "credential": credential},
                          201)
    national_id = enrolled["national_id"]
    staff.accept(admin_token)
    for offer in ({"role": "registrar", "regions": TOP_REGIONS, "for_national_id": national_id},
                  {"role": "auditor", "for_national_id": national_id}):
        invitation = staff.post("/api/v1/admin/invitations", offer, 201)
        staff.accept(token_of(invitation["url"]))

    # Several, so that some are still waiting when the links are followed.
    for given_name in ("Ngozi", "Tomas", "Ines"):
        waiting = Browser(base)
        waiting.enroll({"given_name": given_name, "family_name": "Adeyemi",
                        "birth_date": "1984-02-29", "region": record["region"]})
        waiting.post("/api/v1/me/verification", {}, 201)

    # The same details as the first citizen: refused, and a case is opened.
    Browser(base).post("/api/v1/enrollment/start",
                       {key: record[key] for key in
                        ("given_name", "family_name", "birth_date", "region")}, 409)

    cookie = staff.http.cookies.get("civitas_session")
    if not cookie:
        sys.exit("seed: enrollment set no civitas_session cookie")
    print(json.dumps({"cookie": cookie, "national_id": national_id, "origin": staff.origin}))


if __name__ == "__main__":
    main()
