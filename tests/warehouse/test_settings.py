import pytest

from operations.__main__ import main as cli_main
from warehouse.settings import PROJECT_ROOT, SettingsError, load_settings, url_password


def test_defaults_point_at_the_local_clusters():
    settings = load_settings()
    assert settings.source_database_url.endswith("@127.0.0.1:5433/source")
    assert settings.main_database_url.endswith("@127.0.0.1:5434/main")
    assert settings.replica_database_url.endswith("@127.0.0.1:5435/replica")
    assert settings.default_timezone == "UTC"
    assert settings.runtime_dir == PROJECT_ROOT / ".runtime"
    assert settings.ingestion_interval_minutes == 5  # each connected user polled every 5 minutes


def test_env_file_is_read_and_environment_wins(env_file, monkeypatch):
    env_file.write_text("DEFAULT_TIMEZONE=Europe/Berlin\nSESSION_GAP_MINUTES=45\n")
    assert load_settings().default_timezone == "Europe/Berlin"
    assert load_settings().session_gap_minutes == 45
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Asia/Kolkata")
    assert load_settings().default_timezone == "Asia/Kolkata"


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("MAIN_DATABASE_URL", "mysql://x@127.0.0.1/main", "postgresql://"),
        ("SOURCE_DATABASE_URL", "postgresql://127.0.0.1:5433", "database"),
        ("REPLICA_DATABASE_URL", "postgresql://u@127.0.0.1:99999/replica", "port"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "IANA"),
        ("SESSION_GAP_MINUTES", "0", "greater than or equal to 1"),
        ("ALBUM_MIN_TRACKS", "five", "integer"),
        ("FLASK_SECRET_KEY", "short-key", "at least 32 characters"),
        ("DASHBOARD_ADMIN_PASSWORD", "hunter2", "at least 12 characters"),
        ("DASHBOARD_PUBLIC_URL", "wrapped.example.org", "https://"),
        ("SESSION_LIFETIME_HOURS", "0", "greater than or equal to 1"),
        ("INGESTION_INTERVAL_MINUTES", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert name in str(error.value)
    assert says in str(error.value)


def test_the_command_line_stops_at_start_on_a_bad_setting(monkeypatch, capsys):
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Nowhere/Land")
    assert cli_main(["summary"]) == 2
    assert "DEFAULT_TIMEZONE" in capsys.readouterr().err


def test_every_setting_is_documented_in_env_example():
    import re

    from warehouse.settings import Settings

    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    assert {name.upper() for name in Settings.model_fields} - documented == set()


def test_secrets_are_generated_once_and_an_empty_admin_password_stays_empty(env_file, monkeypatch):
    from operations.secrets import write_missing_secrets
    from warehouse.settings import get_settings

    get_settings.cache_clear()
    env_file.write_text("# kept\nMAIN_DATABASE_URL=postgresql://wrapped@127.0.0.1:6001/main\n")
    assert write_missing_secrets() == [
        "TOKEN_ENCRYPTION_KEY", "PIPELINE_API_KEY", "FLASK_SECRET_KEY", "DASHBOARD_ADMIN_PASSWORD",
        "DATABASE_OWNER_PASSWORD", "DEBEZIUM_DATABASE_PASSWORD",
        "SOURCE_DATABASE_URL", "MAIN_DATABASE_URL", "REPLICA_DATABASE_URL", "REPLICA_READER_URL"]
    written = env_file.read_text()
    assert written.startswith("# kept\nMAIN_DATABASE_URL=postgresql://wrapped:")  # replaced in place
    assert written.count("MAIN_DATABASE_URL=") == 1 and oct(env_file.stat().st_mode & 0o777) == "0o600"
    get_settings.cache_clear()
    settings = load_settings()
    passwords = {url_password(getattr(settings, name)) for name in
                 ("source_database_url", "main_database_url", "replica_database_url", "replica_reader_url")}
    passwords |= {settings.database_owner_password, settings.debezium_database_password}
    assert len(passwords) == 6 and min(map(len, passwords)) >= 32  # every role its own generated password
    assert settings.main_database_url.endswith("@127.0.0.1:6001/main")
    assert write_missing_secrets() == [] and env_file.read_text() == written  # never changed once set
    env_file.write_text("DASHBOARD_ADMIN_PASSWORD=\n")  # the admin login turned off on purpose
    get_settings.cache_clear()
    assert "DASHBOARD_ADMIN_PASSWORD" not in write_missing_secrets()
    get_settings.cache_clear()
    assert load_settings().dashboard_admin_password == ""
