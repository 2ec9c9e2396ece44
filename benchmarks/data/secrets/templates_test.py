"""Templates of the held-out *test* secrets set. Written apart from the dev templates and never tuned on.

Other variable names, other phrasing, other placeholders and some file formats the dev set lacks
(Dockerfile, GitHub Actions, Helm, TOML, .netrc, .pgpass, web.config, Terraform, PHP, Rust, PowerShell,
nginx and JSON logs, HTTP dumps, notebooks). Slots work as in ``templates_dev``.
"""

# ruff: noqa: E501  (template strings are data: they read better unbroken)

NAMES: dict[str, list[str]] = {
    "AWS_ACCESS_KEY": ["AWS_KEY_ID", "S3_ACCESS_KEY"],
    "AWS_SECRET_KEY": ["AWS_SECRET_KEY", "S3_SECRET"],
    "GCP_API_KEY": ["FIREBASE_API_KEY", "GOOGLE_API_KEY"],
    "GCP_OAUTH_CLIENT_SECRET": ["OAUTH_GOOGLE_SECRET"],
    "AZURE_STORAGE_KEY": ["AZURE_STORAGE_ACCOUNT_KEY", "STORAGE_KEY"],
    "AZURE_CLIENT_SECRET": ["ARM_CLIENT_SECRET"],
    "OPENAI_API_KEY": ["OPENAI_KEY", "LLM_API_KEY"],
    "ANTHROPIC_API_KEY": ["CLAUDE_API_KEY"],
    "HUGGINGFACE_TOKEN": ["HUGGING_FACE_HUB_TOKEN"],
    "COHERE_API_KEY": ["CO_API_KEY"],
    "MISTRAL_API_KEY": ["MISTRAL_KEY"],
    "GROQ_API_KEY": ["GROQ_KEY"],
    "REPLICATE_API_TOKEN": ["REPLICATE_TOKEN"],
    "GITHUB_TOKEN": ["GH_PAT", "GITHUB_ACCESS_TOKEN"],
    "GITHUB_FINE_GRAINED": ["RENOVATE_TOKEN"],
    "GITLAB_TOKEN": ["CI_DEPLOY_TOKEN", "GL_TOKEN"],
    "NPM_TOKEN": ["NODE_AUTH_TOKEN"],
    "PYPI_TOKEN": ["TWINE_PASSWORD"],
    "SLACK_TOKEN": ["SLACK_API_TOKEN"],
    "SLACK_WEBHOOK": ["ALERTS_WEBHOOK"],
    "DISCORD_BOT_TOKEN": ["BOT_TOKEN"],
    "DISCORD_WEBHOOK": ["DISCORD_HOOK"],
    "TELEGRAM_BOT_TOKEN": ["TG_TOKEN"],
    "TWILIO_API_KEY": ["TWILIO_KEY_SID"],
    "TWILIO_AUTH_TOKEN": ["TWILIO_TOKEN"],
    "SENDGRID_API_KEY": ["SENDGRID_KEY", "MAIL_API_KEY"],
    "MAILGUN_API_KEY": ["MAILGUN_KEY"],
    "STRIPE_KEY": ["STRIPE_API_KEY", "PAYMENTS_KEY"],
    "STRIPE_WEBHOOK_SECRET": ["STRIPE_ENDPOINT_SECRET"],
    "PAYPAL_BRAINTREE_TOKEN": ["BT_ACCESS_TOKEN"],
    "PAYPAL_CLIENT_SECRET": ["PAYPAL_SECRET"],
    "JWT": ["ID_TOKEN", "BEARER_JWT"],
    "GENERIC_PASSWORD": [
        "MYSQL_ROOT_PASSWORD",
        "LDAP_BIND_PASSWORD",
        "MAIL_PASS",
        "KEYCLOAK_ADMIN_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "REDIS_PASSWORD",
    ],
    "GENERIC_TOKEN": [
        "SESSION_SECRET",
        "JWT_SIGNING_KEY",
        "ENCRYPTION_KEY",
        "SENTRY_AUTH_TOKEN",
        "WEBHOOK_SECRET",
        "APP_KEY",
        "INTERNAL_API_TOKEN",
    ],
}
PAIR_WEIGHTS = {"GENERIC_PASSWORD": 6, "GENERIC_TOKEN": 6}

PROSE_NAMES: dict[str, tuple[str, str]] = {
    "OPENAI_API_KEY": ("OpenAI API key", "OpenAI-API-Key"),
    "ANTHROPIC_API_KEY": ("Claude key", "Claude-Schlüssel"),
    "GITHUB_TOKEN": ("GitHub PAT", "GitHub-PAT"),
    "GITLAB_TOKEN": ("deploy token", "Deploy-Token"),
    "STRIPE_KEY": ("Stripe live key", "Stripe-Live-Key"),
    "GENERIC_PASSWORD": ("admin password", "Admin-Kennwort"),
    "GENERIC_TOKEN": ("signing secret", "Signatur-Secret"),
    "AWS_SECRET_KEY": ("S3 secret", "S3-Secret"),
    "SENDGRID_API_KEY": ("SendGrid key", "SendGrid-Schlüssel"),
}

PAIR_STYLES: dict[str, list[str]] = {
    "env": ["{name}={value}", "{name}='{value}'", "{name}={value}  # rotated"],
    "yaml": ["{name}: {value}", '{name}: "{value}"'],
    "toml": ['{name} = "{value}"'],
    "json": ['"{name}": "{value}"', '"{name}":"{value}"'],
    "pyenv": ['os.environ["{name}"] = "{value}"'],
    "go": ['{name} := "{value}"'],
    "log": ['{name}="{value}"', "{name}={value}"],
    "prose_en": ["use {value} as the {en}", "{en} -> {value}", "{en} (prod): {value}"],
    "prose_de": ["{de} für Prod: {value}", "als {de} bitte {value} verwenden", "{de} -> {value}"],
}

PLACEHOLDERS = [
    "<INSERT_TOKEN>",
    "your-secret-here",
    "${SECRET}",
    "{{ .Values.db.password }}",
    "<%= ENV['API_KEY'] %>",
    "$(DB_PASS)",
    "#{Octopus.Password}",
    "__TOKEN__",
    "op://prod/ledger/password",
    "****",
    "xxx-xxx-xxx",
    "TODO",
    "secret",
    "sk-XXXXXXXXXXXXXXXXXXXXXXXX",
    "ghp_************************************",
    "<redacted>",
    "null",
    "ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:2=,type:str]",
]
DOC_KEYS = [
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
]
WORD_LISTS: dict[str, list[str]] = {
    "user": ["inkasso_ro", "deploy", "svc-export", "reporting", "root"],
    "host": ["mysql.prod.internal", "10.20.1.5", "sql-ledger.acme.net", "pg.acme-inkasso.de"],
    "db": ["mahnwesen", "forderungen", "reporting", "kunden"],
    "app": ["mahnwesen", "inkasso-api", "export", "chatbot"],
}

LOOKALIKE_LINES: dict[str, list[str]] = {
    "env": [
        "GIT_COMMIT=⟨git_sha⟩",
        "DOCKER_IMAGE=ghcr.io/acme/app@⟨digest⟩",
        "CORRELATION_ID=⟨uuid⟩",
        "TENANT_UUID=⟨uuid⟩",
        "API_KEY=⟨placeholder⟩",
        "PASSWORD=⟨placeholder⟩",
        "ACCESS_KEY_ID=⟨doc_key⟩",
        "NEXT_PUBLIC_STRIPE_KEY=⟨pk_live⟩",
        "MAX_TOKENS=4096",
        "SESSION_TIMEOUT=1800",
        "PAYOUT_IBAN=⟨iban⟩",
        "ETAG=⟨md5⟩",
        "KUBE_POD=⟨pod⟩",
        "FILE_SHA256=⟨sha256⟩",
        "AUTH_URL=https://login.acme.net/oauth2/token",
        "PUBLIC_KEY_PATH=/etc/keys/jwt.pub",
    ],
    "yaml": [
        "digest: ⟨digest⟩",
        "sha: ⟨git_sha⟩",
        "correlationId: ⟨uuid⟩",
        "apiKey: ⟨placeholder⟩",
        'password: "⟨placeholder⟩"',
        "tokenLifetimeSeconds: 900",
        "existingSecret: ⟨app⟩-secrets",
        "passwordResetUrl: https://portal.acme.net/reset",
        "payoutIban: ⟨iban⟩",
        "publicKey: ⟨ssh_pub⟩",
    ],
    "json": [
        '"sha256": "⟨sha256⟩"',
        '"requestId": "⟨uuid⟩"',
        '"paymentIntent": "⟨stripe_id⟩"',
        '"apiKey": "⟨placeholder⟩"',
        '"passwordHash": "⟨bcrypt⟩"',
        '"thumbnail": "⟨image⟩"',
        '"accountSid": "⟨twilio_sid⟩"',
        '"md5": "⟨md5⟩"',
    ],
}

GCP_JSON = (
    '{"client_email": "export@acme-⟨app⟩.iam.gserviceaccount.com", "private_key": "⟨GCP_PRIVATE_KEY⟩\\n", '
    '"type": "service_account", "token_uri": "https://oauth2.googleapis.com/token", "private_key_id": "⟨sha1⟩"}'
)

KINDS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "config_env": {
        "positive": [
            ("# generated by terraform, do not edit\n⟨LOOKALIKE:env⟩\n⟨PAIR:env⟩\n⟨LOOKALIKE:env⟩\n", "env"),
            (
                "FROM python:3.12-slim\nENV ⟨PAIR:env⟩\nENV PYTHONUNBUFFERED=1\nRUN pip install -r requirements.txt\n",
                "dockerfile",
            ),
            (
                "AMQP_URL=amqps://⟨user⟩:⟨URL_PASSWORD⟩@rabbit.internal:5671/%2F\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            ("SQLALCHEMY_DATABASE_URI=mysql+pymysql://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:3306/⟨db⟩\n", "env"),
            (
                "SERVICEBUS_CONNECTION=Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName="
                "RootManageSharedAccessKey;SharedAccessKey=⟨AZURE_SHARED_ACCESS_KEY⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            ("⟨LOOKALIKE:env⟩\n⟨PAIR:env⟩\n", "env"),
            ("# ~/.bash_history\naws s3 ls s3://acme-exports\n⟨PAIR:env⟩\nkubectl get pods -n ⟨app⟩\n", "sh"),
        ],
        "negative": [
            (
                "# generated by terraform, do not edit\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
            (
                "FROM python:3.12-slim\nARG GIT_SHA=⟨git_sha⟩\nENV PYTHONUNBUFFERED=1\nENV API_TOKEN=⟨placeholder⟩\n",
                "dockerfile",
            ),
            ("AMQP_URL=amqps://⟨user⟩:${RABBIT_PASSWORD}@rabbit.internal:5671/%2F\n⟨LOOKALIKE:env⟩\n", "env"),
            (
                "# .env.example\nSTRIPE_SECRET_KEY=⟨placeholder⟩\nSENDGRID_API_KEY=⟨placeholder⟩\n⟨LOOKALIKE:env⟩\n",
                "env",
            ),
        ],
    },
    "config_yaml": {
        "positive": [
            (
                "name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    env:\n      ⟨PAIR:yaml⟩\n"
                "    steps:\n      - uses: actions/checkout@⟨git_sha⟩\n",
                "yaml",
            ),
            (
                "postgresql:\n  auth:\n    username: ⟨user⟩\n    password: ⟨PASSWORD⟩\n    database: ⟨db⟩\n"
                "image:\n  digest: ⟨digest⟩\n",
                "yaml",
            ),
            (
                "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: ⟨user⟩\n"
                "      POSTGRES_PASSWORD: ⟨PASSWORD⟩\n  cache:\n    image: redis:7\n"
                "    command: redis-server --requirepass ⟨PASSWORD⟩\n",
                "yaml",
            ),
            (
                "mail:\n  smtp:\n    host: smtp.sendgrid.net\n    user: apikey\n    pass: ⟨SENDGRID_API_KEY⟩\n",
                "yaml",
            ),
            (
                "stringData:\n  DATABASE_URL: postgresql://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩/⟨db⟩?sslmode=require\n",
                "yaml",
            ),
            ("ssh:\n  host: sftp.kanzlei-partner.de\n  private_key: |\n    ⟨PEM_INDENT4⟩\n", "yaml"),
            ("openai:\n  ⟨PAIR:yaml⟩\n  organization: org-⟨git_short⟩\n  ⟨LOOKALIKE:yaml⟩\n", "yaml"),
            (
                "clients:\n  - name: portal\n    client_id: portal-web\n    client_secret: ⟨GCP_OAUTH_CLIENT_SECRET⟩\n",
                "yaml",
            ),
        ],
        "negative": [
            (
                "jobs:\n  publish:\n    env:\n      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n      GIT_SHA: ⟨git_sha⟩\n"
                "    steps:\n      - uses: actions/setup-node@⟨git_sha⟩\n",
                "yaml",
            ),
            (
                "postgresql:\n  auth:\n    existingSecret: ledger-db\n    secretKeys:\n"
                "      adminPasswordKey: postgres-password\n      userPasswordKey: password\nimage:\n  digest: ⟨digest⟩\n",
                "yaml",
            ),
            (
                "services:\n  db:\n    image: postgres:16@⟨digest⟩\n    environment:\n"
                "      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n    secrets:\n      - db_password\n",
                "yaml",
            ),
            ("⟨LOOKALIKE:yaml⟩\n⟨LOOKALIKE:yaml⟩\n⟨LOOKALIKE:yaml⟩\n⟨LOOKALIKE:yaml⟩\n", "yaml"),
            (
                'sops:\n  kms:\n    - arn: ⟨arn⟩\n  lastmodified: "⟨date⟩T⟨time⟩Z"\n'
                "  mac: ENC[AES256_GCM,data:⟨hex32⟩,iv:⟨hex32⟩,tag:⟨hex32⟩,type:str]\n"
                "db_password: ENC[AES256_GCM,data:⟨hex32⟩,type:str]\n",
                "yaml",
            ),
        ],
    },
    "config_json": {
        "positive": [
            (
                '{"Logging": {"LogLevel": {"Default": "Information"}}, "ConnectionStrings": {"Default": '
                '"Server=⟨host⟩;Database=⟨db⟩;User Id=⟨user⟩;Password=⟨CONN_PASSWORD⟩;TrustServerCertificate=True"}}',
                "json",
            ),
            (
                '{"cell_type": "code", "execution_count": 3, "source": ["client = anthropic.Anthropic('
                'api_key=\\"⟨ANTHROPIC_API_KEY⟩\\")"], "outputs": []}',
                "json",
            ),
            ('{"auths": {"ghcr.io": {"auth": "⟨BASIC⟩"}}}', "json"),
            (
                '{"web": {"client_id": "⟨num⟩-⟨git_short⟩.apps.googleusercontent.com", "project_id": "acme-portal", '
                '"client_secret": "⟨GCP_OAUTH_CLIENT_SECRET⟩", "redirect_uris": ["https://portal.acme.net/callback"]}}',
                "json",
            ),
            ('[{"id": "⟨uuid⟩", ⟨PAIR:json⟩, "created": "⟨date⟩"}]', "json"),
            (
                '{"webhook": {"url": "⟨DISCORD_WEBHOOK⟩", "events": ["case.closed"]}, "signing": {⟨PAIR:json⟩}}',
                "json",
            ),
            (GCP_JSON, "json"),
        ],
        "negative": [
            (
                '{"ConnectionStrings": {"Default": "Server=⟨host⟩;Database=⟨db⟩;Integrated Security=SSPI"}, '
                '"ApiKeyHeader": "X-Api-Key"}',
                "json",
            ),
            ('{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}', "json"),
            ('[{"id": "⟨uuid⟩", ⟨LOOKALIKE:json⟩, "created": "⟨date⟩"}]', "json"),
            (
                '{"auth": {"password": "Kennwort", "passwordRepeat": "Kennwort wiederholen", "token": '
                '"Sicherheitscode", "resetPassword": "Kennwort zurücksetzen"}}',
                "json",
            ),
            (
                '{"jwks": {"keys": [{"kty": "RSA", "kid": "⟨hex32⟩", "use": "sig", "n": "⟨sha512⟩", "e": "AQAB"}]}}',
                "json",
            ),
            (
                '{"commit": {"sha": "⟨git_sha⟩", "tree": {"sha": "⟨git_sha⟩"}, "verification": {"signature": '
                '"-----BEGIN PGP SIGNATURE-----\\n\\n⟨hex32⟩\\n-----END PGP SIGNATURE-----"}}}',
                "json",
            ),
        ],
    },
    "config_ini": {
        "positive": [
            ("machine api.github.com\n  login acme-bot\n  password ⟨GITHUB_TOKEN⟩\n", "netrc"),
            ('[tool.poetry.http-basic.acme]\nusername = "deploy"\npassword = "⟨PASSWORD⟩"\n', "toml"),
            ('[mysqld]\nport = 3306\n\n[client]\nuser = ⟨user⟩\npassword = "⟨PASSWORD⟩"\n', "ini"),
            ("⟨host⟩:5432:⟨db⟩:⟨user⟩:⟨PASSWORD⟩\n", "pgpass"),
            (
                "mail.smtp.host=smtp.acme.net\nmail.smtp.password=⟨PASSWORD⟩\nkeystore.password=⟨PASSWORD⟩\n",
                "properties",
            ),
            (
                '<configuration>\n  <appSettings>\n    <add key="StripeSecretKey" value="⟨STRIPE_KEY⟩" />\n'
                '  </appSettings>\n  <connectionStrings>\n    <add name="Default" connectionString="Data Source=⟨host⟩;'
                'Initial Catalog=⟨db⟩;User ID=⟨user⟩;Password=⟨CONN_PASSWORD⟩" />\n  </connectionStrings>\n'
                "</configuration>",
                "xml",
            ),
            ('region = "eu-central-1"\n⟨PAIR:toml⟩\ninstance_type = "t3.small"\n', "tfvars"),
            (
                "[acme-s3]\ntype = s3\nprovider = AWS\naccess_key_id = ⟨AWS_ACCESS_KEY⟩\n"
                "secret_access_key = ⟨AWS_SECRET_KEY⟩\n",
                "conf",
            ),
        ],
        "negative": [
            ("machine api.github.com\n  login acme-bot\n  password ⟨placeholder⟩\n", "netrc"),
            (
                '[tool.poetry]\nname = "ledger"\nversion = "1.4.2"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
                "# lock hash ⟨sha256⟩\n",
                "toml",
            ),
            (
                "[client]\nuser = ⟨user⟩\npassword = ⟨placeholder⟩\n\n[mysqld]\nssl-ca = /etc/mysql/ca.pem\n",
                "ini",
            ),
            (
                '<connectionStrings>\n  <add name="Default" connectionString="Data Source=⟨host⟩;Initial Catalog=⟨db⟩;'
                'Integrated Security=True" />\n</connectionStrings>',
                "xml",
            ),
            (
                "[acme-s3]\ntype = s3\nprovider = AWS\nenv_auth = true\nregion = eu-central-1\n# etag ⟨md5⟩\n",
                "conf",
            ),
        ],
    },
    "code": {
        "positive": [
            ("const stripe = new Stripe('⟨STRIPE_KEY⟩', { apiVersion: '2024-06-20' });\n", "ts"),
            ("<?php\n$db = new PDO('mysql:host=⟨host⟩;dbname=⟨db⟩', '⟨user⟩', '⟨PASSWORD⟩');\n", "php"),
            (
                'Rails.application.configure do\n  config.x.sendgrid_api_key = "⟨SENDGRID_API_KEY⟩"\nend\n',
                "rb",
            ),
            (
                'let client = reqwest::Client::new();\nlet res = client.get(url).bearer_auth("⟨TOKEN⟩").send().await?;\n',
                "rs",
            ),
            ('val hfToken = "⟨HUGGINGFACE_TOKEN⟩"\n', "kt"),
            ('$password = ConvertTo-SecureString "⟨PASSWORD⟩" -AsPlainText -Force\n', "ps1"),
            ('psql "host=⟨host⟩ dbname=⟨db⟩ user=⟨user⟩ password=⟨CONN_PASSWORD⟩"\n', "sh"),
            ('provider "azurerm" {\n  features {}\n  client_secret = "⟨AZURE_CLIENT_SECRET⟩"\n}\n', "tf"),
            (
                'jwt_token = "⟨JWT⟩"\nresp = httpx.get(URL, headers={"Authorization": f"Bearer {jwt_token}"})\n',
                "py",
            ),
            ("⟨PAIR:pyenv⟩\n", "py"),
            ('⟨PAIR:go⟩\nresp, err := http.Post(hookURL, "application/json", body)\n', "go"),
            ('curl -X POST -d \'{"text":"deploy done"}\' ⟨SLACK_WEBHOOK⟩\n', "sh"),
        ],
        "negative": [
            (
                "const stripe = new Stripe(process.env.STRIPE_SECRET_KEY!, { apiVersion: '2024-06-20' });\n",
                "ts",
            ),
            ("<?php\n$db = new PDO(getenv('DB_DSN'), getenv('DB_USER'), getenv('DB_PASSWORD'));\n", "php"),
            ('digest = Digest::SHA256.hexdigest(payload) # => "⟨sha256⟩"\n', "rb"),
            ('const EMPTY_SHA1: &str = "⟨sha1⟩";\nconst NAMESPACE: Uuid = uuid!("⟨uuid⟩");\n', "rs"),
            (
                'resource "azurerm_key_vault_secret" "db" {\n  name  = "db-password"\n'
                "  value = random_password.db.result\n}\n",
                "tf",
            ),
            ('$password = Read-Host -AsSecureString "Enter password"\n', "ps1"),
            ('assert sha1(b"").hexdigest() == "⟨sha1⟩"\nPLACEHOLDER_KEY = "⟨placeholder⟩"\n', "py"),
            ("ssh-keygen -lf ~/.ssh/id_ed25519.pub  # SHA256:⟨hex32⟩\n", "sh"),
        ],
    },
    "log": {
        "positive": [
            (
                '⟨ip⟩ - - [⟨date⟩:⟨time⟩ +0000] "GET /api/export?token=⟨TOKEN⟩&format=csv HTTP/1.1" 200 5120 "-" '
                '"python-requests/2.32"',
                "log",
            ),
            (
                '{"ts":"⟨date⟩T⟨time⟩Z","level":"error","msg":"upstream auth failed","headers":'
                '{"authorization":"Bearer ⟨JWT⟩"}}',
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ celery.worker ERROR broker connection lost: amqp://⟨user⟩:⟨URL_PASSWORD⟩"
                "@rabbit.internal:5672// retrying in 5s",
                "log",
            ),
            (
                "⟨date⟩T⟨time⟩Z [github-sync] cloning https://x-access-token:⟨GITHUB_TOKEN⟩@github.com/acme/⟨app⟩.git",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ DEBUG botocore.credentials: Found credentials in environment variables. "
                "access_key=⟨AWS_ACCESS_KEY⟩",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ WARN [payments] stripe call with key ⟨STRIPE_KEY⟩ failed: rate_limited request=⟨uuid⟩",
                "log",
            ),
            ("⟨date⟩ ⟨time⟩ INFO env dump: PATH=/usr/bin HOME=/app ⟨PAIR:log⟩ TZ=Europe/Berlin", "log"),
            (
                "> POST /v1/chat/completions HTTP/1.1\n> Host: api.openai.com\n> Authorization: Bearer "
                "⟨OPENAI_API_KEY⟩\n> Content-Type: application/json\n",
                "log",
            ),
        ],
        "negative": [
            (
                '⟨ip⟩ - - [⟨date⟩:⟨time⟩ +0000] "GET /api/cases/⟨uuid⟩?page=2 HTTP/1.1" 200 812 "-" "Mozilla/5.0"',
                "log",
            ),
            (
                '{"ts":"⟨date⟩T⟨time⟩Z","level":"info","msg":"token validated","sub":"⟨num⟩","jti":"⟨uuid⟩",'
                '"kid":"⟨hex32⟩"}',
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ celery.worker INFO task ⟨uuid⟩ succeeded in 0.42s: {'case': '⟨case⟩', "
                "'digest': '⟨sha256⟩'}",
                "log",
            ),
            (
                "⟨date⟩T⟨time⟩Z [github-sync] fetched ⟨git_sha⟩ (⟨num⟩ objects) from https://github.com/acme/⟨app⟩.git",
                "log",
            ),
            ("⟨date⟩ ⟨time⟩ DEBUG redaction: replaced 2 secrets with [REDACTED] in request ⟨uuid⟩", "log"),
            (
                "> POST /v1/chat/completions HTTP/1.1\n> Host: api.openai.com\n> Authorization: Bearer "
                "sk-****************************wXyZ\n> Content-Type: application/json\n",
                "log",
            ),
            (
                "⟨date⟩ ⟨time⟩ INFO SEPA mandate ⟨case⟩ for IBAN ⟨iban⟩ accepted, end-to-end id ⟨hex32⟩",
                "log",
            ),
        ],
    },
    "prose_en": {
        "positive": [
            (
                "@channel heads up: the old Anthropic key leaked, here is the replacement ⟨ANTHROPIC_API_KEY⟩ "
                "(rotated ⟨date⟩)",
                "txt",
            ),
            (
                "Steps to reproduce:\n1. export ⟨PAIR:env⟩\n2. run `make sync`\n3. observe 403 from the ledger API",
                "txt",
            ),
            (
                "Dear partner,\n\nyour SFTP account is ready. Host: sftp.acme-inkasso.de, user: ⟨user⟩, "
                "password ⟨PASSWORD⟩\n\nBest regards",
                "txt",
            ),
            ("The webhook is ⟨DISCORD_WEBHOOK⟩ if you want to post test events.", "txt"),
            ("I can't log in to npm with token ⟨NPM_TOKEN⟩, says expired.", "txt"),
            ("Bot token below, don't commit it: ⟨DISCORD_BOT_TOKEN⟩", "txt"),
            ("Hugging Face read token for the eval job: ⟨HUGGINGFACE_TOKEN⟩ - rate limits apply.", "txt"),
            (
                'mongo shell: mongosh "mongodb://⟨user⟩:⟨URL_PASSWORD⟩@⟨host⟩:27017/⟨db⟩?authSource=admin"',
                "txt",
            ),
            ("For the sandbox: ⟨PAIR:prose_en⟩, thanks.", "txt"),
        ],
        "negative": [
            (
                "@channel reminder: never paste API keys here. Use the vault link "
                "https://vault.acme.net/ui/vault/secrets/kv/show/ledger instead.",
                "txt",
            ),
            (
                "Steps to reproduce:\n1. export API_KEY=⟨placeholder⟩\n2. run `make sync`\n3. observe 403 (request ⟨uuid⟩)",
                "txt",
            ),
            (
                "Dear partner,\n\nyour SFTP account is ready. The password will be sent by SMS. Host key "
                "fingerprint: SHA256:⟨hex32⟩\n\nBest regards",
                "txt",
            ),
            ("Thanks! Commit ⟨git_sha⟩ fixes the token refresh bug; CI run ⟨num⟩ is green.", "txt"),
            ("The invoice ⟨order⟩ for ⟨amount⟩ EUR is attached; our IBAN is ⟨iban⟩.", "txt"),
            ("Here is the image you asked for: ⟨image⟩", "txt"),
            (
                "What is the difference between an access token and a refresh token? The docs show eyJhbGciOi... "
                "as an example.",
                "txt",
            ),
        ],
    },
    "prose_de": {
        "positive": [
            (
                "Guten Tag, Ihre Zugangsdaten zum Gläubigerportal: Benutzername ⟨user⟩, Kennwort: ⟨PASSWORD⟩",
                "txt",
            ),
            ("Kurze Info: der neue Schlüssel für OpenAI ist ⟨OPENAI_API_KEY⟩, der alte ist gesperrt.", "txt"),
            ("Bitte in die Konfiguration übernehmen: ⟨PAIR:prose_de⟩", "txt"),
            (
                "Die Verbindung zur Datenbank: Server=⟨host⟩;Database=⟨db⟩;User Id=⟨user⟩;Password=⟨CONN_PASSWORD⟩;",
                "txt",
            ),
            ("Anbei der GitLab-Token für die Pipeline: ⟨GITLAB_TOKEN⟩ (läuft in 30 Tagen ab).", "txt"),
            (
                "Für den Export nach S3: Zugriffsschlüssel ⟨AWS_ACCESS_KEY⟩, geheimer Schlüssel ⟨AWS_SECRET_KEY⟩",
                "txt",
            ),
            ("Hallo Team, hier der Webhook für Discord: ⟨DISCORD_WEBHOOK⟩", "txt"),
            ("Das Einmalpasswort für Herrn Schmidt ist ⟨PASSWORD⟩ - bitte telefonisch durchgeben.", "txt"),
        ],
        "negative": [
            (
                "Guten Tag, Ihr Kennwort wurde erfolgreich geändert. Falls Sie das nicht waren, wenden Sie sich an "
                "den Support.",
                "txt",
            ),
            ("Ihre Zahlung über ⟨amount⟩ EUR ist eingegangen (Aktenzeichen ⟨case⟩, IBAN ⟨iban⟩).", "txt"),
            (
                "Der Schlüssel wurde rotiert, Fingerabdruck SHA256:⟨hex32⟩; den neuen erhalten Sie über den Tresor.",
                "txt",
            ),
            (
                "Bitte tragen Sie Ihr Passwort niemals in E-Mails ein. Beispiel für ein sicheres Passwort: mindestens "
                "12 Zeichen.",
                "txt",
            ),
            ("Vorgang ⟨uuid⟩: Token abgelaufen, Sitzung beendet.", "txt"),
            (
                "In der Vorlage steht password: ⟨placeholder⟩ - bitte durch den echten Wert aus dem Tresor ersetzen.",
                "txt",
            ),
            ("Prüfsumme der Datei: ⟨sha256⟩, Commit ⟨git_short⟩.", "txt"),
        ],
    },
}
