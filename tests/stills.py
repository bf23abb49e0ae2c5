"""Test photos and Content Credentials made at run time: faces from scikit-image's astronaut (as
in tests/videos.py), and C2PA manifests signed with a certificate authority this module makes
itself (nothing downloaded, no key in the repository)."""

from __future__ import annotations

import datetime
import io
from functools import cache

import cv2
import numpy as np

from tests.videos import astronaut_head, background  # noqa: F401 - background: tests use it from here

SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def face_photo(faces: int = 1, width: int = 640, height: int = 320) -> np.ndarray:
    """A BGR photo with ``faces`` astronaut heads side by side (the second one mirrored, so the
    detector sees two different crops), on a smooth background."""
    image = background(width, height, 0.3)
    side = min(height - 40, (width - 40) // max(faces, 1))
    for number in range(faces):
        head = cv2.resize(astronaut_head(), (side, side), interpolation=cv2.INTER_AREA)
        head = head[:, ::-1] if number % 2 else head
        left = 20 + number * (width - 40) // max(faces, 1)
        image[20:20 + side, left:left + side] = head
    return image


def encode(image: np.ndarray, extension: str) -> bytes:
    """The image as a .jpg, .png or .webp file's bytes."""
    ok, data = cv2.imencode(extension, image)
    assert ok, extension
    return data.tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header claims width x height pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


@cache
def signing_identity() -> tuple[str, str, str]:
    """(certificate chain PEM, private key PEM, CA certificate PEM): an ES256 signer issued by a
    CA of our own, with the extensions C2PA asks of a signer (digitalSignature, emailProtection,
    not a CA, key identifiers)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Newsroom")])

    def usage(**flags) -> x509.KeyUsage:
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                 "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{flag: flags.get(flag, False) for flag in names})

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    ca = (builder(name("Test Root CA"), name("Test Root CA"), ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    signer = (builder(name("Test Camera"), ca.subject, key.public_key())
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(digital_signature=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = (signer.public_bytes(pem) + ca.public_bytes(pem)).decode()
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return chain, private, ca.public_bytes(pem).decode()


def sign(data: bytes, media_type: str, *, ai: bool = True) -> bytes:
    """``data`` with a C2PA manifest signed by ``signing_identity``: a "created" action, declared
    AI-generated when ``ai``, a camera capture otherwise."""
    import c2pa

    chain, private, _ = signing_identity()
    source = "trainedAlgorithmicMedia" if ai else "digitalCapture"
    action = {"action": "c2pa.created", "digitalSourceType": SOURCE_TYPES + source}
    manifest = {
        "claim_generator_info": [{"name": "dfd-test-signer", "version": "1.0"}],
        "title": "evidence",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain.encode(),
                                                       private.encode(), None))
    signed = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, media_type, io.BytesIO(data), signed)
    return signed.getvalue()


def tamper(data: bytes, at: float = 0.6) -> bytes:
    """A copy with 32 bytes changed ``at`` that share of the file: pixels, past the JPEG's and PNG's
    manifest (near the start), before an MP4's index (at the end)."""
    changed = bytearray(data)
    start = int(len(changed) * at)
    for offset in range(start, start + 32):
        changed[offset] ^= 0x5A
    return bytes(changed)
