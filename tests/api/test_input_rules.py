"""Input rules, stated in the schema and applied by the API alike: a JSON body is accepted exactly
when its request schema allows it (the fuzzer's positive/negative data checks, pinned here case
by case). DRF's own fields coerce ("name": 0 -> "0") and trim before they count; the API's
fields (ledger/api/fields.py) refuse other JSON types, and the schema states the rest."""

from __future__ import annotations

import jsonschema_rs
import pytest

pytestmark = pytest.mark.django_db

HASH = "0x" + "ab" * 32
ADDRESS = "0x" + "11" * 20


def request_schema(schema: dict, name: str):
    """A validator for a request component, as schemathesis judges one: OpenAPI 3.0 is draft 4,
    and jsonschema_rs (schemathesis's validator) reads a pattern as ECMA does (``$`` is the end,
    not "before a final newline" as in Python's re)."""
    component = schema["components"]["schemas"][name]
    return jsonschema_rs.Draft4Validator({**component, "components": schema["components"]})


@pytest.fixture
def agent(alice):
    # A row is enough: these edits do not touch the adapter (no LoRA-shape change).
    from agents.models import Agent, BaseModel

    base = BaseModel.objects.create(name="tiny", path="/nowhere", is_default=True)
    return Agent.objects.create(
        owner=alice, name="mine", base_model=base, target_modules=["q_proj"]
    )


def test_it_spells_out_every_whitespace_character_trimming_removes():
    import sys

    from ledger.api.fields import WHITESPACE

    assert set(WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


# --- agents -----------------------------------------------------------------------------------

BLANKS = [" ", "   ", "\t\n", "\u3000", "\x1c", "\xa0 \u2028"]  # all whitespace to str.strip()


@pytest.mark.parametrize(
    "body, accepted",
    [
        ({"name": "bob"}, True),
        ({"name": "  bob  "}, True),  # trimmed, as before
        ({"name": "x" * 80}, True),
        ({"name": "x" * 80 + " "}, False),  # 81 characters as sent: maxLength counts them all
        ({"name": ""}, False),
        *[({"name": blank}, False) for blank in BLANKS],
        ({"name": "a\x00b"}, False),
        ({"name": 0}, False),  # DRF made it "0"
        ({"name": None}, False),
        ({"system_prompt": ""}, True),
        ({"system_prompt": "   "}, True),  # may be blank
        ({"system_prompt": "be\x00"}, False),
        ({"top_k": 5}, True),
        ({"top_k": "5"}, False),
        ({"top_k": 5.0}, False),
        ({"load_in_4bit": False}, True),
        ({"load_in_4bit": 0}, False),
        ({"load_in_4bit": "false"}, False),
        ({"temperature": 0}, True),  # inclusive minimum
        ({"temperature": "0.5"}, False),
        ({"top_p": 0.5}, True),
        ({"top_p": 0}, False),  # exclusive minimum: (0, 1]
        ({"learning_rate": 0.0}, False),
        ({"dpo_beta": 0}, False),
        ({"target_modules": []}, False),
        ({"target_modules": ["q_proj", "q_proj"]}, False),
        ({"target_modules": ["nope"]}, False),
        ({"target_modules": None}, False),
        ({"target_modules": "q_proj"}, False),
    ],
)
def test_it_accepts_an_agent_edit_exactly_when_the_schema_does(api, schema, agent, body, accepted):
    validator = request_schema(schema, "PatchedAgentRequest")
    assert validator.is_valid(body) is accepted

    response = api.patch(f"/api/v1/agents/{agent.pk}/", body, format="json")

    assert (response.status_code == 200) is accepted, response.content
    if not accepted:
        assert response.status_code == 400 and set(response.json()) == set(body)
        agent.refresh_from_db()
        assert agent.name == "mine" and agent.top_k == 50 and agent.load_in_4bit is True


def test_it_takes_the_base_model_id_only_as_a_json_integer(api, agent):
    url = f"/api/v1/agents/{agent.pk}/"
    assert api.patch(url, {"base_model": agent.base_model_id}, format="json").status_code == 200
    refused = api.patch(url, {"base_model": str(agent.base_model_id)}, format="json")
    assert refused.status_code == 400 and "base_model" in refused.json()


@pytest.mark.parametrize("name", ["", *BLANKS, 0, "x" * 81, "a\x00"])
def test_it_refuses_a_fork_name_the_schema_refuses(api, schema, agent, name):
    from agents.models import Agent

    assert not request_schema(schema, "ForkRequest").is_valid({"name": name})
    response = api.post(f"/api/v1/agents/{agent.pk}/fork/", {"name": name}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert Agent.objects.count() == 1


def test_it_documents_the_exclusive_minimums_and_the_target_modules(schema):
    properties = schema["components"]["schemas"]["AgentRequest"]["properties"]
    for name in ("top_p", "learning_rate", "dpo_beta"):
        assert properties[name]["minimum"] == 0 and properties[name]["exclusiveMinimum"] is True
    assert "exclusiveMinimum" not in properties["temperature"]
    modules = properties["target_modules"]
    assert modules["type"] == "array" and modules["minItems"] == 1 and modules["uniqueItems"]


# --- entries ----------------------------------------------------------------------------------

ENTRY = {"agent": 999, "space": "sums", "fee_tier": "free", "key": "k1"}


@pytest.mark.parametrize(
    "change",
    [
        {"agent": "999"},
        {"agent": True},
        {"space": " sums"},  # the slug pattern is the whole rule: nothing is trimmed away
        {"space": "sums\n"},
        {"space": "a b"},
        {"fee_tier": "  "},
        {"fee_tier": 0},
        {"key": 12},
        {"key": " "},
    ],
)
def test_it_refuses_an_entry_the_schema_refuses(api, schema, change):
    body = {**ENTRY, **change}
    assert not request_schema(schema, "EntryCreateRequest").is_valid(body)
    response = api.post("/api/v1/entries/", body, format="json")
    assert response.status_code == 400 and set(response.json()) == set(change)


def test_it_still_reads_numbers_from_a_form_as_text(api, schema):
    # A form carries every value as text: the agent id "999" is parsed, and is simply not theirs.
    assert request_schema(schema, "EntryCreateRequest").is_valid(ENTRY)
    assert api.post("/api/v1/entries/", ENTRY, format="json").status_code == 404
    assert api.post("/api/v1/entries/", {**ENTRY, "agent": "999"}).status_code == 404


# --- chain ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, accepted",
    [
        (ADDRESS, True),
        (ADDRESS[2:], True),  # eth_utils takes it without the 0x
        ("0X" + ADDRESS[2:], True),
        ("0x" + "aB" * 20, True),  # no checksum rule for a nonce
        (" " + ADDRESS, False),
        (ADDRESS + "\n", False),
        ("0xnothex", False),
        (ADDRESS + "0", False),
        (11, False),
    ],
)
def test_it_accepts_a_nonce_address_exactly_when_the_schema_does(client, schema, address, accepted):
    body = {"address": address}
    assert request_schema(schema, "NonceInRequest").is_valid(body) is accepted
    response = client.post("/api/v1/siwe/nonce", body, content_type="application/json")
    assert (response.status_code == 201) is accepted, response.content


@pytest.mark.parametrize(
    "tx_hash, well_formed",
    [
        (HASH, True),
        (HASH.upper().replace("0X", "0x"), True),
        (HASH[:-1], False),
        (HASH + "0", False),
        (" " + HASH, False),
        (HASH[2:], False),
        ("0x" + "g" * 64, False),
    ],
)
def test_it_documents_the_transaction_hash_the_deposit_service_takes(schema, tx_hash, well_formed):
    from ledger.chain.deposits import DepositRejected, normalize_tx_hash

    assert request_schema(schema, "DepositClaimRequest").is_valid({"tx_hash": tx_hash}) is (
        well_formed
    )
    if well_formed:
        assert normalize_tx_hash(tx_hash) == tx_hash.lower()
    elif len(tx_hash) <= 66:  # longer ones never reach the service: maxLength refuses them
        with pytest.raises(DepositRejected):
            normalize_tx_hash(tx_hash)


@pytest.mark.parametrize("tx_hash", [HASH + "0", " " + HASH, 7, ""])
def test_it_refuses_a_malformed_deposit_claim_before_the_chain(api, tx_hash):
    response = api.post("/api/v1/deposits", {"tx_hash": tx_hash}, format="json")
    assert response.status_code == 400 and "tx_hash" in response.json()


@pytest.mark.parametrize(
    "change",
    [
        {"to_address": " " + ADDRESS},
        {"to_address": ADDRESS[2:]},  # a withdrawal needs the 0x
        {"to_address": ADDRESS + "\n"},
        {"credits": "10"},
        {"credits": 10.0},
        {"credits": True},
        {"idempotency_key": 5},
        {"idempotency_key": "  "},
    ],
)
def test_it_refuses_a_withdrawal_the_schema_refuses(api, schema, alice, change):
    from ledger import services as ledger
    from ledger.models import Withdrawal

    ledger.grant(user=alice, amount=100, key="test:seed")
    body = {"to_address": ADDRESS, "credits": 10, "idempotency_key": "k", **change}
    assert not request_schema(schema, "WithdrawalRequestRequest").is_valid(body)
    response = api.post("/api/v1/withdrawals", body, format="json")
    assert response.status_code == 400 and set(response.json()) == set(change)
    assert not Withdrawal.objects.exists() and ledger.user_balance(alice) == 100


# --- sign-in ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": 0, "password": "alice-pass-123"}, "username"),
        ({"username": "   ", "password": "alice-pass-123"}, "username"),
        ({"username": "alice", "password": 123}, "password"),
        ({"username": "alice", "password": ""}, "password"),
    ],
)
def test_it_refuses_a_token_login_the_schema_refuses(client, schema, alice, body, field):
    assert not request_schema(schema, "TokenLoginRequest").is_valid(body)
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400 and field in response.json()


def test_it_signs_in_with_a_password_of_spaces_kept_as_typed(client, schema, django_user_model):
    django_user_model.objects.create_user("dora", password="  ")
    body = {"username": "dora", "password": "  "}
    assert request_schema(schema, "TokenLoginRequest").is_valid(body)
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["token"]
