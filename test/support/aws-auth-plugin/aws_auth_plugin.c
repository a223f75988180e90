/*
 * A stand-in, for tests, of Aurora MySQL's AWSAuthenticationPlugin: a MariaDB
 * server authentication plugin registered under that name, so that the exact
 * statement the users provider runs on Aurora,
 *
 *   CREATE USER 'u'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL
 *
 * creates an account on MariaDB that logs in with an RDS IAM authentication
 * token, as @aws-sdk/rds-signer mints it: a SigV4 query-string presigned URL
 * without its scheme,
 *
 *   host:port/?Action=connect&DBUser=<user>&X-Amz-Algorithm=AWS4-HMAC-SHA256
 *     &X-Amz-Credential=<key id>/<yyyymmdd>/<region>/rds-db/aws4_request
 *     &X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=900
 *     [&X-Amz-Security-Token=...]&X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>
 *
 * The client sends the token in clear (client plugin `mysql_clear_password`,
 * as RDS Proxy asks for); the test server only accepts TLS connections.
 *
 * A token is accepted when, and only when:
 * - the account's authentication string is `RDS`;
 * - DBUser is exactly the user name the client logs in with;
 * - the credential scope names the configured access key id, the day of
 *   X-Amz-Date, the configured region (any region when none is configured),
 *   service `rds-db` and `aws4_request`;
 * - X-Amz-Algorithm is AWS4-HMAC-SHA256, X-Amz-SignedHeaders is `host`,
 *   Action is `connect`, and no parameter is repeated;
 * - it is not expired (now <= X-Amz-Date + X-Amz-Expires, with X-Amz-Expires
 *   in 1..900) and not signed more than 5 minutes in the future;
 * - X-Amz-Signature is the SigV4 signature, recomputed here with the
 *   configured secret key, of the canonical request
 *     GET \n / \n <canonical query> \n host:<host:port> \n \n host \n SHA256("")
 *   where the canonical query is every parameter but X-Amz-Signature,
 *   decoded, re-encoded (RFC 3986 unreserved characters kept, the rest %XX)
 *   and sorted by name.
 * A session token (X-Amz-Security-Token) is signed like any parameter but
 * cannot be checked further here.
 *
 * Configuration, as global system variables (SET GLOBAL, or in the server's
 * option file with the loose- prefix):
 *   awsauthenticationplugin_access_key_id
 *   awsauthenticationplugin_secret_access_key
 *   awsauthenticationplugin_region            (empty: any region)
 * With no key configured, every login is refused.
 *
 * Build: see build.sh next to this file (MariaDB server headers, OpenSSL).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql/plugin_auth.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define PLUGIN_NAME "AWSAuthenticationPlugin"
/* Longer than any token rds-signer makes (about 1,000 characters with a session token). */
#define MAX_TOKEN 4096
#define MAX_PARAMS 16
#define MAX_EXPIRES 900
#define MAX_FUTURE_SKEW 300
#define KEY_BUFFER 256

static char *access_key_id_var;
static char *secret_access_key_var;
static char *region_var;
/* Where SET GLOBAL puts the values (the server owns the string it passes only during the update). */
static char access_key_id_buf[KEY_BUFFER];
static char secret_access_key_buf[KEY_BUFFER];
static char region_buf[KEY_BUFFER];
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;

static void update_string(char *buf, void *var_ptr, const void *save)
{
  const char *value = *(const char *const *) save;
  size_t n = value ? strlen(value) : 0;
  pthread_mutex_lock(&config_lock);
  if (n >= KEY_BUFFER) {
    /* Too long for a key: keep nothing, which refuses every login. */
    fprintf(stderr, PLUGIN_NAME ": value too long, cleared\n");
    n = 0;
  }
  if (n) memcpy(buf, value, n);
  buf[n] = '\0';
  *(char **) var_ptr = buf;
  pthread_mutex_unlock(&config_lock);
}

static void update_access_key_id(MYSQL_THD thd, struct st_mysql_sys_var *var, void *var_ptr, const void *save)
{
  (void) thd;
  (void) var;
  update_string(access_key_id_buf, var_ptr, save);
}

static void update_secret_access_key(MYSQL_THD thd, struct st_mysql_sys_var *var, void *var_ptr, const void *save)
{
  (void) thd;
  (void) var;
  update_string(secret_access_key_buf, var_ptr, save);
}

static void update_region(MYSQL_THD thd, struct st_mysql_sys_var *var, void *var_ptr, const void *save)
{
  (void) thd;
  (void) var;
  update_string(region_buf, var_ptr, save);
}

static MYSQL_SYSVAR_STR(access_key_id, access_key_id_var, PLUGIN_VAR_RQCMDARG,
                        "The access key id tokens must be signed with", NULL, update_access_key_id, "");
static MYSQL_SYSVAR_STR(secret_access_key, secret_access_key_var, PLUGIN_VAR_RQCMDARG,
                        "The secret access key that verifies token signatures (test use only)", NULL,
                        update_secret_access_key, "");
static MYSQL_SYSVAR_STR(region, region_var, PLUGIN_VAR_RQCMDARG, "The region tokens must be signed for; empty: any",
                        NULL, update_region, "");

static struct st_mysql_sys_var *system_variables[] = {
  MYSQL_SYSVAR(access_key_id),
  MYSQL_SYSVAR(secret_access_key),
  MYSQL_SYSVAR(region),
  NULL,
};

struct config {
  char access_key_id[KEY_BUFFER];
  char secret_access_key[KEY_BUFFER];
  char region[KEY_BUFFER];
};

static int copy_value(char *dst, const char *src)
{
  size_t n = src ? strlen(src) : 0;
  if (n >= KEY_BUFFER) return 1;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
  return 0;
}

static int read_config(struct config *c)
{
  int err;
  pthread_mutex_lock(&config_lock);
  err = copy_value(c->access_key_id, access_key_id_var)
     || copy_value(c->secret_access_key, secret_access_key_var)
     || copy_value(c->region, region_var);
  pthread_mutex_unlock(&config_lock);
  return err;
}

struct param {
  char *name;  /* decoded */
  char *value; /* decoded */
};

static int hex_digit(int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decode %XX in place; refuses a malformed escape and NUL. */
static int percent_decode(char *s)
{
  char *out = s;
  for (const char *in = s; *in; in++) {
    if (*in == '%') {
      int hi = hex_digit((unsigned char) in[1]);
      int lo = hi < 0 ? -1 : hex_digit((unsigned char) in[2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return 1;
      *out++ = (char) (hi * 16 + lo);
      in += 2;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
  return 0;
}

/* SigV4 URI encoding: RFC 3986 unreserved characters as they are, every other byte as %XX. */
static int uri_encode(const char *s, char *out, size_t size, size_t *len)
{
  static const char hex[] = "0123456789ABCDEF";
  if (*len >= size) return 1;
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      if (*len + 1 >= size) return 1;
      out[(*len)++] = (char) c;
    } else {
      if (*len + 3 >= size) return 1;
      out[(*len)++] = '%';
      out[(*len)++] = hex[c >> 4];
      out[(*len)++] = hex[c & 15];
    }
  }
  out[*len] = '\0';
  return 0;
}

static int append(char *out, size_t size, size_t *len, const char *s)
{
  size_t n = strlen(s);
  if (*len + n >= size) return 1;
  memcpy(out + *len, s, n + 1);
  *len += n;
  return 0;
}

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hmac_sha256(const unsigned char *key, size_t key_len, const char *data, unsigned char out[32])
{
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) data, strlen(data), out, &len) == NULL || len != 32;
}

struct encoded_param {
  const char *name;
  const char *value;
};

/* Scratch space for one check (allocated per login). */
struct work {
  struct encoded_param encoded[MAX_PARAMS];
  /* The encoded names and values, each NUL-terminated. */
  char text[3 * MAX_TOKEN + 2 * MAX_PARAMS];
  char canonical[3 * MAX_TOKEN + 256];
};

static int compare_encoded(const void *a, const void *b)
{
  return strcmp(((const struct encoded_param *) a)->name, ((const struct encoded_param *) b)->name);
}

static const char *find(struct param *params, int n, const char *name)
{
  for (int i = 0; i < n; i++)
    if (strcmp(params[i].name, name) == 0) return params[i].value;
  return NULL;
}

static int digits(const char *s, int n)
{
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

/* YYYYMMDDTHHMMSSZ as seconds since the epoch; -1 when malformed. */
static time_t parse_amz_date(const char *s)
{
  struct tm tm;
  if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return -1;
  for (int i = 0; i < 15; i++)
    if (i != 8 && !isdigit((unsigned char) s[i])) return -1;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = digits(s, 4) - 1900;
  tm.tm_mon = digits(s + 4, 2) - 1;
  tm.tm_mday = digits(s + 6, 2);
  tm.tm_hour = digits(s + 9, 2);
  tm.tm_min = digits(s + 11, 2);
  tm.tm_sec = digits(s + 13, 2);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
      || tm.tm_sec > 60)
    return -1;
  return timegm(&tm);
}

/*
 * Checks `token` for `user` at `now`; returns NULL when it is accepted, else
 * why not (for the server's error log; the token itself is never logged).
 * `token` is modified.
 */
static const char *check_token(char *token, const char *user, size_t user_len, const struct config *c, struct work *w,
                               time_t now)
{
  struct encoded_param *encoded = w->encoded;
  char *canonical = w->canonical;
  struct param params[MAX_PARAMS];
  int n = 0;
  char *query;
  char *host;
  const char *signature, *credential, *amz_date, *expires_s;
  char scope_key_id[KEY_BUFFER], scope_day[16], scope_region[KEY_BUFFER], scope_service[32], scope_terminal[32];
  char string_to_sign[512];
  char hash_hex[65], expected[65];
  unsigned char digest[32], key[32];
  char secret[KEY_BUFFER + 4];
  size_t len = 0;
  char *end;
  long expires;
  time_t signed_at;

  if (!c->access_key_id[0] || !c->secret_access_key[0]) return "no access key configured";

  /* host:port/?query */
  host = token;
  query = strstr(token, "/?");
  if (!query || query == token) return "not a presigned URL (host:port/?...)";
  *query = '\0';
  query += 2;
  for (const char *p = host; *p; p++)
    if (isspace((unsigned char) *p) || *p == '/') return "bad host";

  for (char *save = NULL, *part = strtok_r(query, "&", &save); part; part = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(part, '=');
    if (!eq) return "query parameter without a value";
    if (n == MAX_PARAMS) return "too many query parameters";
    *eq = '\0';
    params[n].name = part;
    params[n].value = eq + 1;
    if (percent_decode(params[n].name) || percent_decode(params[n].value)) return "bad percent-encoding";
    for (int i = 0; i < n; i++)
      if (strcmp(params[i].name, params[n].name) == 0) return "repeated query parameter";
    n++;
  }

  if (!find(params, n, "Action") || strcmp(find(params, n, "Action"), "connect") != 0) return "Action is not connect";
  {
    const char *db_user = find(params, n, "DBUser");
    if (!db_user) return "no DBUser";
    if (strlen(db_user) != user_len || memcmp(db_user, user, user_len) != 0) return "DBUser is not the user logging in";
  }
  if (!find(params, n, "X-Amz-Algorithm") || strcmp(find(params, n, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256") != 0)
    return "X-Amz-Algorithm is not AWS4-HMAC-SHA256";
  if (!find(params, n, "X-Amz-SignedHeaders") || strcmp(find(params, n, "X-Amz-SignedHeaders"), "host") != 0)
    return "X-Amz-SignedHeaders is not host";
  signature = find(params, n, "X-Amz-Signature");
  if (!signature || strlen(signature) != 64) return "no signature";
  credential = find(params, n, "X-Amz-Credential");
  amz_date = find(params, n, "X-Amz-Date");
  expires_s = find(params, n, "X-Amz-Expires");
  if (!credential || !amz_date || !expires_s) return "missing X-Amz-Credential, X-Amz-Date or X-Amz-Expires";

  /* Credential scope: <key id>/<day>/<region>/<service>/aws4_request */
  {
    const char *parts[5];
    size_t lens[5];
    const char *p = credential;
    for (int i = 0; i < 5; i++) {
      const char *slash = strchr(p, '/');
      if ((i < 4) != (slash != NULL)) return "malformed X-Amz-Credential";
      parts[i] = p;
      lens[i] = slash ? (size_t) (slash - p) : strlen(p);
      p = slash ? slash + 1 : p + lens[i];
    }
    if (lens[0] >= sizeof scope_key_id || lens[1] >= sizeof scope_day || lens[2] >= sizeof scope_region
        || lens[3] >= sizeof scope_service || lens[4] >= sizeof scope_terminal)
      return "malformed X-Amz-Credential";
    memcpy(scope_key_id, parts[0], lens[0]); scope_key_id[lens[0]] = '\0';
    memcpy(scope_day, parts[1], lens[1]); scope_day[lens[1]] = '\0';
    memcpy(scope_region, parts[2], lens[2]); scope_region[lens[2]] = '\0';
    memcpy(scope_service, parts[3], lens[3]); scope_service[lens[3]] = '\0';
    memcpy(scope_terminal, parts[4], lens[4]); scope_terminal[lens[4]] = '\0';
  }
  if (strcmp(scope_key_id, c->access_key_id) != 0) return "unknown access key id";
  if (strcmp(scope_service, "rds-db") != 0 || strcmp(scope_terminal, "aws4_request") != 0) return "not an rds-db scope";
  if (!scope_region[0] || (c->region[0] && strcmp(scope_region, c->region) != 0)) return "wrong region";

  signed_at = parse_amz_date(amz_date);
  if (signed_at < 0) return "malformed X-Amz-Date";
  if (strncmp(scope_day, amz_date, 8) != 0 || strlen(scope_day) != 8) return "credential day is not the day of X-Amz-Date";
  expires = strtol(expires_s, &end, 10);
  if (*expires_s == '\0' || *end != '\0' || expires < 1 || expires > MAX_EXPIRES) return "X-Amz-Expires out of range";
  if (now > signed_at + expires) return "expired";
  if (signed_at > now + MAX_FUTURE_SKEW) return "signed in the future";

  /* Canonical query: every parameter but the signature, encoded, sorted by name. */
  {
    int m = 0;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
      if (strcmp(params[i].name, "X-Amz-Signature") == 0) continue;
      encoded[m].name = w->text + used;
      if (uri_encode(params[i].name, w->text, sizeof w->text, &used)) return "token too long";
      used++;
      encoded[m].value = w->text + used;
      if (uri_encode(params[i].value, w->text, sizeof w->text, &used)) return "token too long";
      used++;
      m++;
    }
    qsort(encoded, (size_t) m, sizeof encoded[0], compare_encoded);
    if (append(canonical, sizeof w->canonical, &len, "GET\n/\n")) return "token too long";
    for (int i = 0; i < m; i++) {
      if ((i > 0 && append(canonical, sizeof w->canonical, &len, "&"))
          || append(canonical, sizeof w->canonical, &len, encoded[i].name)
          || append(canonical, sizeof w->canonical, &len, "=")
          || append(canonical, sizeof w->canonical, &len, encoded[i].value))
        return "token too long";
    }
  }
  /* The signed header host (no whitespace to trim: checked above), the signed header list, the empty payload's hash. */
  if (append(canonical, sizeof w->canonical, &len, "\nhost:") || append(canonical, sizeof w->canonical, &len, host)
      || append(canonical, sizeof w->canonical, &len, "\n\nhost\n")
      || append(canonical, sizeof w->canonical, &len, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    return "token too long";

  SHA256((const unsigned char *) canonical, len, digest);
  to_hex(digest, 32, hash_hex);
  /* The credential scope is the credential without the key id. */
  if (snprintf(string_to_sign, sizeof string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/%s\n%s", amz_date, scope_day,
               scope_region, scope_service, scope_terminal, hash_hex)
      >= (int) sizeof string_to_sign)
    return "token too long";

  snprintf(secret, sizeof secret, "AWS4%s", c->secret_access_key);
  if (hmac_sha256((const unsigned char *) secret, strlen(secret), scope_day, key)
      || hmac_sha256(key, 32, scope_region, key)
      || hmac_sha256(key, 32, scope_service, key)
      || hmac_sha256(key, 32, "aws4_request", key)
      || hmac_sha256(key, 32, string_to_sign, digest))
    return "HMAC failed";
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(key, sizeof key);
  to_hex(digest, 32, expected);
  if (CRYPTO_memcmp(expected, signature, 64) != 0) return "signature does not verify";
  return NULL;
}

static int authenticate(MYSQL_PLUGIN_VIO *vio, MYSQL_SERVER_AUTH_INFO *info)
{
  unsigned char *packet;
  int packet_len;
  char *token;
  const char *why;
  struct config c;
  struct work *w;

  info->password_used = PASSWORD_USED_YES;
  /* Asks the client for the token (switching it to mysql_clear_password). */
  packet_len = vio->read_packet(vio, &packet);
  if (packet_len < 0) return CR_ERROR;
  /* The cleartext client plugin sends the password with its terminating NUL. */
  while (packet_len > 0 && packet[packet_len - 1] == '\0') packet_len--;
  if (packet_len == 0) {
    info->password_used = PASSWORD_USED_NO;
    return CR_ERROR;
  }
  if (packet_len >= MAX_TOKEN || memchr(packet, '\0', (size_t) packet_len)) return CR_ERROR;
  if (info->auth_string_length != 3 || memcmp(info->auth_string, "RDS", 3) != 0) {
    fprintf(stderr, PLUGIN_NAME ": refused '%.*s': the account's authentication string is not 'RDS'\n",
            (int) info->user_name_length, info->user_name);
    return CR_ERROR;
  }
  if (read_config(&c)) return CR_ERROR;
  token = malloc((size_t) packet_len + 1);
  w = malloc(sizeof *w);
  if (!token || !w) {
    free(token);
    free(w);
    return CR_ERROR;
  }
  memcpy(token, packet, (size_t) packet_len);
  token[packet_len] = '\0';
  why = check_token(token, info->user_name, info->user_name_length, &c, w, time(NULL));
  OPENSSL_cleanse(token, (size_t) packet_len);
  free(token);
  free(w);
  OPENSSL_cleanse(&c, sizeof c);
  if (why) {
    fprintf(stderr, PLUGIN_NAME ": refused '%.*s': %s\n", (int) info->user_name_length, info->user_name, why);
    return CR_ERROR;
  }
  return CR_OK;
}

static struct st_mysql_auth aws_auth_handler = {
  MYSQL_AUTHENTICATION_INTERFACE_VERSION,
  "mysql_clear_password",
  authenticate,
  NULL, /* hash_password: the authentication string is kept as given ('RDS') */
  NULL, /* preprocess_hash */
};

maria_declare_plugin(aws_auth)
{
  MYSQL_AUTHENTICATION_PLUGIN,
  &aws_auth_handler,
  PLUGIN_NAME,
  "serverless-lamp-database tests",
  "Test stand-in for Aurora MySQL IAM authentication: verifies RDS IAM auth tokens (SigV4)",
  PLUGIN_LICENSE_GPL,
  NULL,
  NULL,
  0x0100,
  NULL,
  system_variables,
  "1.0",
  MariaDB_PLUGIN_MATURITY_EXPERIMENTAL
}
maria_declare_plugin_end;
