"""Templates of the *dev* secrets set (the one rules were tuned on).

Slots: ``⟨UPPER⟩`` is a labelled secret of that type (or PASSWORD, TOKEN, URL_PASSWORD, CONN_PASSWORD,
GCP_PRIVATE_KEY, AZURE_SAS, BEARER, BASIC, PEM, PEM_INDENT4); ``⟨PAIR:style⟩`` a name/value assignment
of a random type; ``⟨LOOKALIKE:style⟩`` a non-secret line full of look-alikes; ``⟨lower⟩`` noise.
"""

# ruff: noqa: E501  (template strings are data: they read better unbroken)

NAMES: dict[str, list[str]] = {
    "AWS_ACCESS_KEY": ["AWS_ACCESS_KEY_ID"],
    "AWS_SECRET_KEY": ["AWS_SECRET_ACCESS_KEY"],
    "GCP_API_KEY": ["GOOGLE_MAPS_API_KEY", "GEMINI_API_KEY"],
    "GCP_OAUTH_CLIENT_SECRET": ["GOOGLE_CLIENT_SECRET"],
    "AZURE_STORAGE_KEY": ["AZURE_STORAGE_KEY"],
    "AZURE_CLIENT_SECRET": ["AZURE_CLIENT_SECRET"],
    "OPENAI_API_KEY": ["OPENAI_API_KEY"],
    "ANTHROPIC_API_KEY": ["ANTHROPIC_API_KEY"],
    "HUGGINGFACE_TOKEN": ["HF_TOKEN"],
    "COHERE_API_KEY": ["COHERE_API_KEY"],
    "MISTRAL_API_KEY": ["MISTRAL_API_KEY"],
    "GROQ_API_KEY": ["GROQ_API_KEY"],
    "REPLICATE_API_TOKEN": ["REPLICATE_API_TOKEN"],
    "GITHUB_TOKEN": ["GITHUB_TOKEN", "GH_TOKEN"],
    "GITHUB_FINE_GRAINED": ["GITHUB_PAT"],
    "GITLAB_TOKEN": ["GITLAB_TOKEN"],
    "NPM_TOKEN": ["NPM_TOKEN"],
    "PYPI_TOKEN": ["PYPI_API_TOKEN"],
    "SLACK_TOKEN": ["SLACK_BOT_TOKEN"],
    "SLACK_WEBHOOK": ["SLACK_WEBHOOK_URL"],
    "DISCORD_BOT_TOKEN": ["DISCORD_TOKEN"],
    "DISCORD_WEBHOOK": ["DISCORD_WEBHOOK_URL"],
    "TELEGRAM_BOT_TOKEN": ["TELEGRAM_BOT_TOKEN"],
    "TWILIO_API_KEY": ["TWILIO_API_KEY"],
    "TWILIO_AUTH_TOKEN": ["TWILIO_AUTH_TOKEN"],
    "SENDGRID_API_KEY": ["SENDGRID_API_KEY"],
    "MAILGUN_API_KEY": ["MAILGUN_API_KEY"],
    "STRIPE_KEY": ["STRIPE_SECRET_KEY"],
    "STRIPE_WEBHOOK_SECRET": ["STRIPE_WEBHOOK_SECRET"],
    "PAYPAL_BRAINTREE_TOKEN": ["BRAINTREE_ACCESS_TOKEN"],
    "PAYPAL_CLIENT_SECRET": ["PAYPAL_CLIENT_SECRET"],
    "JWT": ["SERVICE_JWT", "ACCESS_TOKEN"],
    "GENERIC_PASSWORD": ["DB_PASSWORD", "SMTP_PASSWORD", "ADMIN_PASSWORD", "POSTGRES_PASSWORD"],
    "GENERIC_TOKEN": ["API_TOKEN", "CLIENT_SECRET", "SECRET_KEY", "AUTH_TOKEN", "DATADOG_API_KEY"],
}
PAIR_WEIGHTS = {"GENERIC_PASSWORD": 6, "GENERIC_TOKEN": 5}

PROSE_NAMES: dict[str, tuple[str, str]] = {
    "AWS_ACCESS_KEY": ("AWS access key", "AWS-Zugangsschlüssel"),
    "AWS_SECRET_KEY": ("AWS secret key", "AWS-Secret-Key"),
    "OPENAI_API_KEY": ("OpenAI key", "OpenAI-Schlüssel"),
    "ANTHROPIC_API_KEY": ("Anthropic key", "Anthropic-Schlüssel"),
    "GITHUB_TOKEN": ("GitHub token", "GitHub-Token"),
    "GITHUB_FINE_GRAINED": ("GitHub token", "GitHub-Token"),
    "STRIPE_KEY": ("Stripe key", "Stripe-Schlüssel"),
    "SLACK_TOKEN": ("Slack bot token", "Slack-Token"),
    "GENERIC_PASSWORD": ("database password", "Datenbank-Passwort"),
    "GENERIC_TOKEN": ("API token", "API-Token"),
    "COHERE_API_KEY": ("Cohere API key", "Cohere-API-Schlüssel"),
    "MISTRAL_API_KEY": ("Mistral API key", "Mistral-API-Schlüssel"),
    "TWILIO_AUTH_TOKEN": ("Twilio auth token", "Twilio-Auth-Token"),
    "PAYPAL_CLIENT_SECRET": ("PayPal client secret", "PayPal-Client-Secret"),
    "AZURE_STORAGE_KEY": ("Azure storage key", "Azure-Storage-Key"),
}

PAIR_STYLES: dict[str, list[str]] = {
    "env": ["{name}={value}", '{name}="{value}"', "export {name}={value}"],
    "yaml": ["{name}: {value}", '{name}: "{value}"', "{name}: '{value}'"],
    "json": ['"{name}": "{value}"'],
    "ini": ["{name} = {value}", "{name}={value}"],
    "py": ['{name} = "{value}"', "{name} = '{value}'"],
    "js": ["{name}: '{value}',", '{name}: "{value}",'],
    "log": ["{name}={value}", "{name}: {value}"],
    "prose_en": ["the {en} is {value}", "{en}: {value}", "new {en} = {value}"],
    "prose_de": ["{de}: {value}", "{de} lautet {value}", "{de} = {value}"],
}

PLACEHOLDERS = [
    "changeme",
    "<your-api-key>",
    "${API_KEY}",
    "{{ secrets.api_key }}",
    "********",
    "xxxxxxxxxxxxxxxx",
    "sk-...",
    "YOUR_TOKEN_HERE",
    "<password>",
    "%(db_password)s",
    "REPLACE_ME",
    "dummy-secret",
    "[REDACTED]",
    "${{ secrets.DEPLOY_TOKEN }}",
    "example-password",
    "sk-proj-your-key-here",
]
DOC_KEYS = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]
WORD_LISTS: dict[str, list[str]] = {
    "user": ["collector", "app_user", "svc_ledger", "etl", "portal"],
    "host": ["db.internal", "db-prod.acme-inkasso.local", "10.0.3.17", "pg-main.cluster.local"],
    "db": ["collections", "ledger", "cases", "portal"],
    "app": ["ledger", "dunning", "portal", "scoring"],
    "person": ["Anna", "Jonas", "Mr Schmidt", "team"],
    "person_de": ["Frau Müller", "Herr Schmidt", "Anna", "Jonas"],
}

LOOKALIKE_LINES: dict[str, list[str]] = {
    "env": [
        "BUILD_SHA=⟨git_sha⟩",
        "IMAGE_DIGEST=⟨digest⟩",
        "REQUEST_ID=⟨uuid⟩",
        "OPENAI_API_KEY=⟨placeholder⟩",
        "DB_PASSWORD=⟨placeholder⟩",
        "AWS_ACCESS_KEY_ID=⟨doc_key⟩",
        "STRIPE_PUBLISHABLE_KEY=⟨pk_live⟩",
        "TWILIO_ACCOUNT_SID=⟨twilio_sid⟩",
        "PASSWORD_MIN_LENGTH=12",
        "TOKEN_TTL_SECONDS=3600",
        "COLLECTION_IBAN=⟨iban⟩",
        "SENTRY_DSN=https://⟨hex32⟩@o⟨num⟩.ingest.sentry.io/⟨num⟩",
        "CACHE_KEY_PREFIX=ledger",
        "API_KEY_HEADER=X-API-Key",
        "SECRET_NAME=prod/ledger/db",
        "ROLE_ARN=⟨arn⟩",
    ],
    "yaml": [
        "commit: ⟨git_sha⟩",
        "checksum: sha256:⟨sha256⟩",
        "image: registry.acme.net/ledger@⟨digest⟩",
        "password: ⟨placeholder⟩",
        'api_key: "⟨placeholder⟩"',
        "token_ttl: 3600",
        "secretName: ⟨app⟩-credentials",
        "request_id: ⟨uuid⟩",
        'password_hash: "⟨bcrypt⟩"',
        "publishable_key: ⟨pk_live⟩",
        "account_sid: ⟨twilio_sid⟩",
        "iban: ⟨iban⟩",
        "max_tokens: 2048",
    ],
    "json": [
        '"etag": "⟨md5⟩"',
        '"id": "⟨uuid⟩"',
        '"customer": "⟨stripe_id⟩"',
        '"password": "⟨placeholder⟩"',
        '"token_hash": "⟨sha256⟩"',
        '"integrity": "⟨integrity⟩"',
        '"avatar": "⟨image⟩"',
        '"api_key": "⟨placeholder⟩"',
        '"trace_id": "⟨trace⟩"',
        '"iban": "⟨iban⟩"',
    ],
    "ini": [
        "commit = ⟨git_sha⟩",
        "password = ⟨placeholder⟩",
        "fingerprint = ⟨sha1⟩",
        "token_lifetime = 3600",
        "request_id = ⟨uuid⟩",
    ],
}

GCP_JSON = (
    '{\n  "type": "service_account",\n  "project_id": "acme-⟨app⟩",\n  "private_key_id": "⟨sha1⟩",\n'
    '  "private_key": "⟨GCP_PRIVATE_KEY⟩\\n",\n'
    '  "client_email": "⟨app⟩@acme-⟨app⟩.iam.gserviceaccount.com",\n  "client_id": "⟨num⟩⟨num⟩⟨num⟩"\n}'
)

KINDS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "config_env": {
        "positive": [
            (
                "# ⟨app⟩ production\nAPP_ENV=production\nPORT=⟨port⟩\n⟨PAIR:env⟩\n⟨LOOKALIKE:env⟩\nLOG_LEVEL=info\n",
                "env",
            ),
            ("⟨LOOKALIKE:env⟩\n⟨PAIR:env⟩\n⟨PAIR:env⟩\nFEATURE_FLAGS=dunning_v2,portal_sso\n", "env"),
            (
                "DATABASE_URL=postgres://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:⟨port⟩/⟨db⟩\n"
                "REDIS_URL=redis://:⟨URL_PASSWORD⟩@cache.internal:6379/0\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            ("SLACK_WEBHOOK_URL=⟨SLACK_WEBHOOK⟩\nALERT_CHANNEL=#ops-alerts\n⟨LOOKALIKE:env⟩\n", "env"),
            (
                "AWS_REGION=eu-central-1\nAWS_ACCESS_KEY_ID=⟨AWS_ACCESS_KEY⟩\n"
                "AWS_SECRET_ACCESS_KEY=⟨AWS_SECRET_KEY⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            (
                "MONGO_URI=mongodb+srv://⟨user⟩:⟨URL_PASSWORD⟩@cluster0.⟨git_short⟩.mongodb.net/⟨db⟩"
                "?retryWrites=true&w=majority\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            (
                "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acme⟨num⟩;"
                "AccountKey=⟨AZURE_STORAGE_KEY⟩;EndpointSuffix=core.windows.net\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            ("⟨PAIR:env⟩\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\n", "env"),
        ],
        "negative": [
            (
                "# ⟨app⟩ production\nAPP_ENV=production\nPORT=⟨port⟩\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\nLOG_LEVEL=info\n",
                "env",
            ),
            (
                "⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\nFEATURE_FLAGS=dunning_v2,portal_sso\n",
                "env",
            ),
            ("DATABASE_URL=postgres://⟨user⟩:${DB_PASSWORD}@⟨host⟩:⟨port⟩/⟨db⟩\n⟨LOOKALIKE:env⟩\n", "env"),
            (
                "# copy to .env and fill in\nOPENAI_API_KEY=\nGITHUB_TOKEN=⟨placeholder⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
        ],
    },
    "config_yaml": {
        "positive": [
            (
                'database:\n  host: ⟨host⟩\n  port: ⟨port⟩\n  username: ⟨user⟩\n  password: "⟨PASSWORD⟩"\n'
                "  ⟨LOOKALIKE:yaml⟩\n",
                "yaml",
            ),
            (
                "services:\n  ⟨app⟩:\n    image: registry.acme.net/⟨app⟩@⟨digest⟩\n    environment:\n"
                "      - ⟨PAIR:env⟩\n      - LOG_LEVEL=debug\n",
                "yaml",
            ),
            ("integrations:\n  ⟨PAIR:yaml⟩\n  ⟨LOOKALIKE:yaml⟩\n  timeout_seconds: 30\n", "yaml"),
            ("tls:\n  enabled: true\n  key: |\n    ⟨PEM_INDENT4⟩\n  ⟨LOOKALIKE:yaml⟩\n", "yaml"),
            (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ⟨app⟩-credentials\ntype: Opaque\n"
                "stringData:\n  ⟨PAIR:yaml⟩\n",
                "yaml",
            ),
            (
                "spring:\n  datasource:\n    url: jdbc:postgresql://⟨host⟩:⟨port⟩/⟨db⟩?user=⟨user⟩&password=⟨CONN_PASSWORD⟩\n"
                "  ⟨LOOKALIKE:yaml⟩\n",
                "yaml",
            ),
            (
                "llm:\n  provider: openai\n  model: gpt-4o-mini\n  api_key: ⟨OPENAI_API_KEY⟩\n  max_tokens: 1024\n",
                "yaml",
            ),
            (
                "notifications:\n  slack:\n    webhook: ⟨SLACK_WEBHOOK⟩\n  discord:\n    webhook: ⟨DISCORD_WEBHOOK⟩\n",
                "yaml",
            ),
        ],
        "negative": [
            (
                "database:\n  host: ⟨host⟩\n  port: ⟨port⟩\n  username: ⟨user⟩\n  password: ⟨placeholder⟩\n"
                "  ⟨LOOKALIKE:yaml⟩\n",
                "yaml",
            ),
            ("build:\n  ⟨LOOKALIKE:yaml⟩\n  ⟨LOOKALIKE:yaml⟩\n  ⟨LOOKALIKE:yaml⟩\n", "yaml"),
            (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ⟨pod⟩\nspec:\n  containers:\n    - name: app\n"
                "      image: registry.acme.net/app@⟨digest⟩\n      env:\n        - name: DB_PASSWORD\n"
                "          valueFrom:\n            secretKeyRef:\n              name: db-credentials\n"
                "              key: password\n",
                "yaml",
            ),
            (
                "llm:\n  provider: openai\n  api_key: ${OPENAI_API_KEY}\n  max_tokens: 1024\n  ⟨LOOKALIKE:yaml⟩\n",
                "yaml",
            ),
            (
                "password_policy:\n  min_length: 12\n  require_symbols: true\n  password_expiry_days: 90\n"
                "  ⟨LOOKALIKE:yaml⟩\n",
                "yaml",
            ),
        ],
    },
    "config_json": {
        "positive": [
            (GCP_JSON, "json"),
            ('{\n  ⟨PAIR:json⟩,\n  ⟨LOOKALIKE:json⟩,\n  "timeout": 30\n}', "json"),
            (
                '{"event": "login", "user": "⟨user⟩", "session": {"access_token": "⟨JWT⟩", ⟨LOOKALIKE:json⟩}}',
                "json",
            ),
            (
                '{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], '
                '"env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "⟨GITHUB_TOKEN⟩"}}}}',
                "json",
            ),
            ('{\n  ⟨LOOKALIKE:json⟩,\n  "credentials": {⟨PAIR:json⟩, ⟨PAIR:json⟩}\n}', "json"),
            (
                '{"AccessKeyId": "⟨AWS_ACCESS_KEY⟩", "SecretAccessKey": "⟨AWS_SECRET_KEY⟩", '
                '"Expiration": "⟨date⟩T⟨time⟩Z"}',
                "json",
            ),
        ],
        "negative": [
            ('{\n  ⟨LOOKALIKE:json⟩,\n  ⟨LOOKALIKE:json⟩,\n  "timeout": 30\n}', "json"),
            (
                '{"name": "@acme/portal", "version": "2.4.1", "lockfileVersion": 3, "packages": {"node_modules/zod": '
                '{"version": "3.23.8", "resolved": "https://registry.npmjs.org/zod/-/zod-3.23.8.tgz", '
                '"integrity": "⟨integrity⟩"}}}',
                "json",
            ),
            (
                '{"login": {"title": "Sign in", "password": "Password", "passwordHint": "At least 12 characters", '
                '"forgotPassword": "Forgot your password?"}}',
                "json",
            ),
            (
                '{"type": "service_account", "project_id": "acme-⟨app⟩", "private_key_id": "⟨sha1⟩", '
                '"private_key": "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n"}',
                "json",
            ),
            (
                '{"id": "⟨uuid⟩", "amount": "⟨amount⟩", "currency": "EUR", "customer": "⟨stripe_id⟩", '
                '"avatar": "⟨image⟩"}',
                "json",
            ),
        ],
    },
    "config_ini": {
        "positive": [
            (
                "[default]\naws_access_key_id = ⟨AWS_ACCESS_KEY⟩\naws_secret_access_key = ⟨AWS_SECRET_KEY⟩\n"
                "region = eu-central-1\n",
                "ini",
            ),
            (
                "[database]\nhost = ⟨host⟩\nport = ⟨port⟩\nuser = ⟨user⟩\npassword = ⟨PASSWORD⟩\n\n[build]\n"
                "⟨LOOKALIKE:ini⟩\n",
                "ini",
            ),
            (
                "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = ⟨PYPI_TOKEN⟩\n",
                "ini",
            ),
            ("//registry.npmjs.org/:_authToken=⟨NPM_TOKEN⟩\nalways-auth=true\n", "ini"),
            ("[smtp]\nserver = mail.acme-inkasso.de\n⟨PAIR:ini⟩\n⟨LOOKALIKE:ini⟩\n", "ini"),
            (
                "spring.datasource.url=jdbc:mysql://⟨host⟩:3306/⟨db⟩\nspring.datasource.username=⟨user⟩\n"
                "spring.datasource.password=⟨PASSWORD⟩\n",
                "properties",
            ),
        ],
        "negative": [
            (
                "[database]\nhost = ⟨host⟩\nport = ⟨port⟩\nuser = ⟨user⟩\npassword = ⟨placeholder⟩\n\n[build]\n"
                "⟨LOOKALIKE:ini⟩\n",
                "ini",
            ),
            (
                '[core]\n\trepositoryformatversion = 0\n[remote "origin"]\n\turl = git@github.com:acme/⟨app⟩.git\n'
                '[branch "main"]\n\tmerge = refs/heads/main\n# last fetch ⟨git_sha⟩\n',
                "ini",
            ),
            ("[default]\nregion = eu-central-1\naws_access_key_id = ⟨doc_key⟩\n⟨LOOKALIKE:ini⟩\n", "ini"),
            ("[security]\npassword_min_length = 12\ntoken_lifetime = 3600\n⟨LOOKALIKE:ini⟩\n", "ini"),
        ],
    },
    "code": {
        "positive": [
            (
                'import stripe\n\nstripe.api_key = "⟨STRIPE_KEY⟩"\n\n\ndef charge(customer_id: str) -> None:\n'
                '    stripe.PaymentIntent.create(amount=4200, currency="eur", customer=customer_id)\n',
                "py",
            ),
            (
                'from openai import OpenAI\n\nclient = OpenAI(api_key="⟨OPENAI_API_KEY⟩")\nprint(client.models.list())\n',
                "py",
            ),
            (
                '⟨PAIR:py⟩\n\n\ndef connect():\n    return psycopg.connect("postgresql://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩/⟨db⟩")\n',
                "py",
            ),
            (
                'headers = {"Authorization": "Bearer ⟨BEARER⟩", "X-Request-Id": "⟨uuid⟩"}\n'
                'response = requests.get("https://api.acme.net/v1/cases", headers=headers, timeout=10)\n',
                "py",
            ),
            (
                "const { WebClient } = require('@slack/web-api');\nconst web = new WebClient('⟨SLACK_TOKEN⟩');\n",
                "js",
            ),
            ("export const config = {\n  ⟨PAIR:js⟩\n  region: 'eu-central-1',\n};\n", "js"),
            (
                'String url = "jdbc:sqlserver://⟨host⟩:1433;databaseName=⟨db⟩;user=⟨user⟩;password=⟨CONN_PASSWORD⟩;";\n'
                "Connection conn = DriverManager.getConnection(url);\n",
                "java",
            ),
            (
                'bot, err := tgbotapi.NewBotAPI("⟨TELEGRAM_BOT_TOKEN⟩")\nif err != nil {\n\tlog.Fatal(err)\n}\n',
                "go",
            ),
            (
                'var connectionString = "Server=⟨host⟩;Database=⟨db⟩;User Id=⟨user⟩;Password=⟨CONN_PASSWORD⟩;";\n',
                "cs",
            ),
            (
                'curl -s -H "Authorization: token ⟨GITHUB_TOKEN⟩" https://api.github.com/repos/acme/⟨app⟩/actions/runs\n',
                "sh",
            ),
            ("git clone https://oauth2:⟨GITLAB_TOKEN⟩@gitlab.acme.net/platform/⟨app⟩.git\n", "sh"),
            ('SSH_KEY = """⟨PEM⟩"""\n', "py"),
        ],
        "negative": [
            (
                'import os\n\nstripe.api_key = os.environ["STRIPE_SECRET_KEY"]\n'
                'client = OpenAI(api_key=os.getenv("OPENAI_API_KEY"))\n',
                "py",
            ),
            (
                'def verify(data: bytes) -> bool:\n    return hashlib.sha256(data).hexdigest() == "⟨sha256⟩"\n',
                "py",
            ),
            ('TEST_PASSWORD = "⟨placeholder⟩"  # replaced in CI\nREQUEST_ID = "⟨uuid⟩"\n', "py"),
            ("const integrity = '⟨integrity⟩';\nconst commit = '⟨git_sha⟩';\n", "js"),
            (
                'String password = System.getenv("DB_PASSWORD");\n'
                'String token = vault.read("secret/data/ledger").get("token");\n',
                "java",
            ),
            ('const pixel = "⟨image⟩"\n', "go"),
            ("docker pull registry.acme.net/⟨app⟩@⟨digest⟩\ngit checkout ⟨git_sha⟩\n", "sh"),
            (
                'var password = Environment.GetEnvironmentVariable("DB_PASSWORD");\n'
                "var hash = BCrypt.HashPassword(password); // e.g. ⟨bcrypt⟩\n",
                "cs",
            ),
        ],
    },
    "log": {
        "positive": [
            (
                "⟨date⟩T⟨time⟩Z INFO  http GET /v1/cases?access_token=⟨JWT⟩ status=200 duration=⟨ms⟩ms trace=⟨trace⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ ERROR [db] connection failed: postgres://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:5432/⟨db⟩ "
                "(timeout after 30s) request_id=⟨uuid⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ DEBUG outgoing request headers={'Authorization': 'Bearer ⟨BEARER⟩', "
                "'X-Request-Id': '⟨uuid⟩'}",
                "log",
            ),
            ("⟨date⟩ ⟨time⟩ WARN notifier: POST ⟨SLACK_WEBHOOK⟩ returned 404", "log"),
            ("⟨date⟩ ⟨time⟩ INFO config loaded: ⟨PAIR:log⟩ region=eu-central-1 commit=⟨git_short⟩", "log"),
            ("⟨date⟩ ⟨time⟩ DEBUG auth header: Authorization: Basic ⟨BASIC⟩", "log"),
            (
                "[⟨date⟩ ⟨time⟩] worker.1 | Traceback (most recent call last):\n"
                '  File "/app/settings.py", line 12, in <module>\n'
                "    SECRET_KEY = '⟨TOKEN⟩'\nValueError: settings not loaded",
                "log",
            ),
            (
                "⟨date⟩T⟨time⟩Z sync: uploading to https://acme⟨num⟩.blob.core.windows.net/exports/⟨date⟩.csv"
                "?sv=2022-11-02&ss=b&srt=o&sp=rw&se=⟨date⟩T23:59:59Z&spr=https&sig=⟨AZURE_SAS⟩",
                "log",
            ),
        ],
        "negative": [
            (
                "⟨date⟩T⟨time⟩Z INFO  http GET /v1/cases/⟨uuid⟩ status=200 duration=⟨ms⟩ms trace=⟨trace⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ INFO auth: token refreshed for user ⟨num⟩ (expires_in=3600) session=⟨uuid⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ DEBUG outgoing request headers={'Authorization': 'Bearer ***', "
                "'X-Request-Id': '⟨uuid⟩'}",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ INFO deploy ⟨app⟩ image=registry.acme.net/⟨app⟩@⟨digest⟩ commit=⟨git_sha⟩ pod=⟨pod⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ WARN login failed for user ⟨user⟩: invalid password (attempt 3 of 5) ip=⟨ip⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ INFO payment received ⟨amount⟩ EUR iban=⟨iban⟩ ref=⟨case⟩ stripe=⟨stripe_id⟩",
                "log",
            ),
            ("⟨date⟩ ⟨time⟩ INFO loaded config api_key=⟨placeholder⟩ checksum=⟨sha256⟩", "log"),
        ],
    },
    "prose_en": {
        "positive": [
            (
                "Hi ⟨person⟩, I rotated the credentials for the staging cluster, ⟨PAIR:prose_en⟩ - please update "
                "your local .env and don't share it outside the team.",
                "txt",
            ),
            (
                "Quick question: calls to the scoring API fail with 401 since this morning. I'm sending the header "
                "`Authorization: Bearer ⟨BEARER⟩`, request id ⟨uuid⟩. Any idea?",
                "txt",
            ),
            ("Can you check this token? ⟨GITHUB_TOKEN⟩ keeps getting rejected by the CI runner.", "txt"),
            ("For the demo tomorrow use user ⟨user⟩ and password ⟨PASSWORD⟩ on the portal.", "txt"),
            ("Here's the service account file you asked for:\n" + GCP_JSON, "txt"),
            (
                "I pasted my OpenAI key by accident in the ticket: ⟨OPENAI_API_KEY⟩. Please delete the comment.",
                "txt",
            ),
            (
                "The DB is reachable at postgres://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:5432/⟨db⟩ - the checksum of the dump "
                "is ⟨sha256⟩.",
                "txt",
            ),
            ("Deploy key for the ⟨app⟩ repo below, it has write access:\n\n⟨PEM⟩\n\nThanks!", "txt"),
        ],
        "negative": [
            (
                "Hi ⟨person⟩, your password must be at least 12 characters long and contain a digit. You can reset "
                "it in the portal.",
                "txt",
            ),
            (
                "The build ⟨git_short⟩ failed; the artifact checksum was ⟨sha256⟩ and the trace id ⟨trace⟩.",
                "txt",
            ),
            (
                "Please transfer the outstanding amount of ⟨amount⟩ EUR to IBAN ⟨iban⟩, reference ⟨case⟩.",
                "txt",
            ),
            (
                "In the AWS docs the example key is ⟨doc_key⟩ - never use real keys in tickets. Your token is "
                "stored in the vault.",
                "txt",
            ),
            (
                "We rotated the API token yesterday. The new one is in 1Password under 'ledger prod', not in this "
                "thread.",
                "txt",
            ),
            ("Order ⟨order⟩ (customer ⟨stripe_id⟩) was refunded; request id ⟨uuid⟩.", "txt"),
            ("Set OPENAI_API_KEY=⟨placeholder⟩ in your .env before running the notebook.", "txt"),
            ("My public SSH key is ⟨ssh_pub⟩ - please add it to the bastion host.", "txt"),
        ],
    },
    "prose_de": {
        "positive": [
            (
                "Hallo ⟨person_de⟩, die Zugangsdaten für das Testsystem: Benutzer ⟨user⟩, Passwort: ⟨PASSWORD⟩. "
                "Bitte nach dem ersten Login ändern.",
                "txt",
            ),
            (
                "Anbei der neue Zugang für die Bonitätsprüfung, ⟨PAIR:prose_de⟩ - bitte nicht per E-Mail "
                "weiterleiten.",
                "txt",
            ),
            (
                "Ich habe versehentlich den Stripe-Schlüssel ⟨STRIPE_KEY⟩ im Ticket gepostet, bitte löschen.",
                "txt",
            ),
            ("Die Datenbank erreichst du unter postgres://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:5432/⟨db⟩.", "txt"),
            (
                "Der Webhook für den Alarmkanal lautet ⟨SLACK_WEBHOOK⟩ - Prüfsumme der Konfiguration: ⟨sha256⟩.",
                "txt",
            ),
            ("Das Passwort lautet ⟨PASSWORD⟩, gültig bis Monatsende.", "txt"),
            ("Hier der private Schlüssel für den SFTP-Zugang der Kanzlei:\n⟨PEM⟩", "txt"),
            ("Token für den Bot: ⟨TELEGRAM_BOT_TOKEN⟩", "txt"),
        ],
        "negative": [
            (
                "Sehr geehrte/r ⟨person_de⟩, Ihr Passwort muss mindestens 12 Zeichen lang sein. Sie können es "
                "jederzeit im Kundenportal zurücksetzen.",
                "txt",
            ),
            (
                "Bitte überweisen Sie den offenen Betrag von ⟨amount⟩ EUR auf das Konto ⟨iban⟩, Aktenzeichen ⟨case⟩.",
                "txt",
            ),
            ("Der Build ⟨git_short⟩ ist fehlgeschlagen, Prüfsumme ⟨sha256⟩, Vorgangsnummer ⟨uuid⟩.", "txt"),
            (
                "Den API-Schlüssel finden Sie im Tresor (Eintrag 'Ledger Prod'), nicht in dieser E-Mail.",
                "txt",
            ),
            (
                "Passwort vergessen? Klicken Sie auf 'Passwort zurücksetzen' und folgen Sie den Anweisungen.",
                "txt",
            ),
            ("Das Token ist abgelaufen, bitte melden Sie sich erneut an. Referenz: ⟨trace⟩", "txt"),
            ("Beispiel aus der Doku: API_KEY=⟨placeholder⟩ in die .env eintragen.", "txt"),
        ],
    },
}
