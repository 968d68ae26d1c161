#!/usr/bin/python3
"""An independent implementation of docs/wire.md with PyNaCl and cbor2, used by interop.test.ts.

sign-command: build and sign an operator command exactly as docs/wire.md says; print the envelope hex
  and, on a second line, the link frame that carries it to the commands topic.
verify: check a manifest, a Murmur-signed command and a commit certificate; print a JSON verdict.
verify-proof: check a block proof (as published on proof/<height>) and that it holds a command.
encode-telemetry: print the hex of a device telemetry body built from JSON fields.
read-telemetry: check a device's signed telemetry envelope against the manifest; print its fields.
Written from the document, not from the TypeScript code: a mismatch between the two fails the test.
"""
import hashlib
import json
import sys
import zlib

import cbor2
import nacl.exceptions
import nacl.signing


def signed_bytes(kind_name, fleet, body):
    return b"murmur/v1/" + kind_name.encode() + b"\x00" + fleet.encode() + b"\x00" + body


def sign_command(seed_hex, fleet, operator, nonce_hex, issued_at_text, command_type, args_json):
    issued_at = int(issued_at_text)
    body = cbor2.dumps({
        "type": command_type,
        "nonce": bytes.fromhex(nonce_hex),
        "issuedAt": issued_at,
        "expiresAt": issued_at + 60000,
        "args": json.loads(args_json),
    })
    key = nacl.signing.SigningKey(bytes.fromhex(seed_hex))
    sig = key.sign(signed_bytes("command", fleet, body)).signature
    envelope = cbor2.dumps([1, 2, fleet, operator, body, sig])
    print(envelope.hex())
    head = bytes([0xA1, 0]) + zlib.crc32(fleet.encode()).to_bytes(4, "big") + envelope
    print((head + zlib.crc32(head).to_bytes(4, "big")).hex())


def verify_sig(pk, sig, msg):
    try:
        nacl.signing.VerifyKey(pk).verify(msg, sig)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def open_envelope(data):
    env = cbor2.loads(data)
    if not (isinstance(env, list) and len(env) == 6 and env[0] == 1):
        raise ValueError("not a version-1 envelope")
    return env


def verify(manifest_path, authority_hex, command_path, cert_path, block_path):
    out = {}
    version, kind, fleet, sender, body, sig = open_envelope(open(manifest_path, "rb").read())
    manifest = cbor2.loads(body)
    authority = bytes.fromhex(authority_hex)
    out["manifest"] = (kind == 1 and sender == "authority" and manifest["authority"] == authority
                       and manifest["fleet"] == fleet and verify_sig(authority, sig, signed_bytes("manifest", fleet, body)))
    validators = {v["id"]: v for v in manifest["validators"]}
    operators = {o["id"]: o for o in manifest["operators"]}

    _, kind, cfleet, sender, body, sig = open_envelope(open(command_path, "rb").read())
    cmd = cbor2.loads(body)
    out["command"] = (kind == 2 and cfleet == fleet and sender in operators
                      and verify_sig(operators[sender]["publicKey"], sig, signed_bytes("command", fleet, body)))
    out["commandType"] = cmd["type"]

    height, rnd, block_hash, sigs = cbor2.loads(open(cert_path, "rb").read())
    vote_body = cbor2.dumps([height, rnd, block_hash])
    msg = signed_bytes("precommit", fleet, vote_body)
    total = sum(v["power"] for v in validators.values())
    signed = 0
    ok = True
    seen = set()
    for vid, s in sigs:
        if vid not in validators or vid in seen or not verify_sig(validators[vid]["publicKey"], s, msg):
            ok = False
            break
        seen.add(vid)
        signed += validators[vid]["power"]
    block = open(block_path, "rb").read()
    out["blockHashMatches"] = hashlib.blake2b(block, digest_size=32).digest() == block_hash
    out["certificate"] = ok and 3 * signed > 2 * total and out["blockHashMatches"]
    out["signedPower"] = signed
    out["totalPower"] = total
    print(json.dumps(out))


def verify_proof(manifest_path, proof_path, command_path):
    _, _, fleet, _, body, _ = open_envelope(open(manifest_path, "rb").read())
    validators = {v["id"]: v for v in cbor2.loads(body)["validators"]}
    block_bytes, (height, rnd, block_hash, sigs) = cbor2.loads(open(proof_path, "rb").read())
    block = cbor2.loads(block_bytes)
    msg = signed_bytes("precommit", fleet, cbor2.dumps([height, rnd, block_hash]))
    signed = sum(validators[v]["power"] for v, s in sigs
                 if v in validators and verify_sig(validators[v]["publicKey"], s, msg))
    total = sum(v["power"] for v in validators.values())
    print(json.dumps({
        "certificate": 3 * signed > 2 * total and len({v for v, _ in sigs}) == len(sigs),
        "blockHashMatches": hashlib.blake2b(block_bytes, digest_size=32).digest() == block_hash,
        "heightMatches": block["height"] == height,
        "holdsCommand": open(command_path, "rb").read() in block["txs"],
    }))


def encode_telemetry(fields_json):
    f = json.loads(fields_json)
    body = [f["node"], f["session"], f["seq"], f["northDm"], f["eastDm"], f["altDm"], f["batteryPermille"], f["completed"]]
    progress = [f["progress"]["mission"], f["progress"]["flown"]] if f.get("progress") else None
    if f.get("handedOver"):
        body += [progress, f["handedOver"]]
    elif progress is not None:
        body.append(progress)
    print(cbor2.dumps(body).hex())


def read_telemetry(manifest_path, envelope_path):
    _, _, fleet, _, mbody, _ = open_envelope(open(manifest_path, "rb").read())
    manifest = cbor2.loads(mbody)
    devices = {d["id"]: d for d in manifest["validators"] + manifest.get("followers", [])}
    _, kind, efleet, sender, body, sig = open_envelope(open(envelope_path, "rb").read())
    a = cbor2.loads(body)
    out = {
        "signature": kind == 13 and efleet == fleet and sender in devices
        and verify_sig(devices[sender]["publicKey"], sig, signed_bytes("telemetry", fleet, body)),
        "bytes": len(body),
        "elements": len(a),
        "node": a[0], "sender": sender, "seq": a[2], "northDm": a[3], "batteryPermille": a[6], "completed": a[7],
        "progress": a[8] if len(a) > 8 else None,
        "handedOver": (a[9] or None) if len(a) > 9 else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "sign-command":
        sign_command(*sys.argv[2:9])
    elif sys.argv[1] == "verify":
        verify(*sys.argv[2:7])
    elif sys.argv[1] == "verify-proof":
        verify_proof(*sys.argv[2:5])
    elif sys.argv[1] == "encode-telemetry":
        encode_telemetry(sys.argv[2])
    elif sys.argv[1] == "read-telemetry":
        read_telemetry(*sys.argv[2:4])
    else:
        sys.exit("usage: wire_interop.py sign-command|verify|verify-proof|encode-telemetry|read-telemetry ...")
