"""The one de-identification standard: citizen-ID rules, native keyed HMAC, keys, field classes.

It stands on its own: nothing here imports the service (``pooling``), which builds on it.
"""

from pseudonymize._hmac import hmac_sha256
from pseudonymize.citizen_id import (
    REASONS,
    check_digit,
    check_digit_expr,
    citizen_id_problem,
    citizen_id_problem_as_sent,
    normalize_citizen_id,
)
from pseudonymize.keys import (
    MIN_KEY_BYTES,
    SecretKey,
    derive_pool_key,
    derive_record_key,
    load_key_file,
    load_master_key,
    new_key_file,
    padded_keys,
)
from pseudonymize.standard import (
    LINKAGE_PSEUDONYM,
    POOL_PSEUDONYM,
    RECORD_KEY,
    FieldClass,
    Standard,
    age_band,
)

__all__ = [
    "LINKAGE_PSEUDONYM",
    "MIN_KEY_BYTES",
    "POOL_PSEUDONYM",
    "REASONS",
    "RECORD_KEY",
    "FieldClass",
    "SecretKey",
    "Standard",
    "age_band",
    "check_digit",
    "check_digit_expr",
    "citizen_id_problem",
    "citizen_id_problem_as_sent",
    "derive_pool_key",
    "derive_record_key",
    "hmac_sha256",
    "load_key_file",
    "load_master_key",
    "new_key_file",
    "normalize_citizen_id",
    "padded_keys",
]
