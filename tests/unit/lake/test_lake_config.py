"""The lake's catalog properties (soc_platform.lake.iceberg.LakeConfig): S3 keys given in the
endpoint's user info reach pyiceberg as key properties, never inside the endpoint."""

from soc_platform.lake.iceberg import LakeConfig


def test_endpoint_user_info_becomes_the_keys() -> None:
    config = LakeConfig(
        catalog_uri="sqlite:///c.db",
        warehouse="s3://lake/wh",
        s3_endpoint="http://minio-key:se%2Fcret@127.0.0.1:9000",
    )
    props = config.catalog_properties()
    assert props["s3.endpoint"] == "http://127.0.0.1:9000"
    assert props["s3.access-key-id"] == "minio-key"
    assert props["s3.secret-access-key"] == "se/cret"
    assert "se%2Fcret" in config.secrets and "se/cret" in config.secrets
    assert "se%2Fcret" not in config.where() and "se/cret" not in config.where()


def test_explicit_keys_win_over_user_info() -> None:
    config = LakeConfig(
        catalog_uri="sqlite:///c.db",
        warehouse="s3://lake/wh",
        s3_endpoint="http://a:b@127.0.0.1:9000",
        s3_access_key_id="explicit",
        s3_secret_access_key="explicit-secret",
    )
    props = config.catalog_properties()
    assert (props["s3.access-key-id"], props["s3.secret-access-key"]) == (
        "explicit",
        "explicit-secret",
    )
    assert props["s3.endpoint"] == "http://127.0.0.1:9000"
