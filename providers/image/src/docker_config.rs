//! Registry credentials from Docker's configuration file (`~/.docker/config.json`, or
//! `$DOCKER_CONFIG/config.json`), where `docker login` and `az acr login` leave them:
//!
//! - `auths.<host>.auth`: base64 of `user:password`;
//! - `auths.<host>.identitytoken`: a refresh token (what `az acr login` stores), presented
//!   with the user name `00000000-0000-0000-0000-000000000000` and exchanged by the token
//!   protocol's `refresh_token` grant;
//! - `credHelpers.<host>` or `credsStore`: a credential helper, the program
//!   `docker-credential-<name>`, asked with `get` and the host on its standard input; it
//!   answers `{"Username": …, "Secret": …}` (a user name of `<token>` means an identity token).
//!
//! Keys of `auths` may be bare hosts or URLs (`https://index.docker.io/v1/` for Docker Hub).

use base64::Engine;
use serde_json::Value as Json;

use crate::registry::Credentials;

/// The user name under which an identity token is presented.
const TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

/// A parsed Docker configuration file. Its `Debug` shows none of what it holds.
#[derive(Clone, Default)]
pub struct DockerConfig {
    json: Json,
    /// Where credential helpers are looked for instead of the inherited `PATH`.
    search_path: Option<String>,
}

impl std::fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&String> =
            self.json["auths"].as_object().map(|a| a.keys().collect()).unwrap_or_default();
        f.debug_struct("DockerConfig").field("auths", &hosts).finish_non_exhaustive()
    }
}

impl DockerConfig {
    /// Parses the file's text; the error says what is wrong, never what it holds.
    pub fn parse(text: &str) -> Result<DockerConfig, String> {
        let json: Json = serde_json::from_str(text).map_err(|e| format!("it is not JSON ({e})"))?;
        if !json.is_object() {
            return Err("it is not a JSON object".to_owned());
        }
        Ok(DockerConfig { json, search_path: None })
    }

    /// Looks for credential helpers in `path` (a `PATH`-style list) instead of the inherited
    /// `PATH`.
    pub fn with_search_path(mut self, path: impl Into<String>) -> DockerConfig {
        self.search_path = Some(path.into());
        self
    }

    /// The credentials the file gives for `host`, asking a credential helper when it names one.
    pub async fn credentials(&self, host: &str) -> Result<Option<Credentials>, String> {
        if let Some(helper) = self.helper(host) {
            return ask_helper(&helper, host, self.search_path.as_deref()).await;
        }
        let Some(entry) = self.entry(host) else { return Ok(None) };
        if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials { username: TOKEN_USER.to_owned(), password: token.to_owned() }));
        }
        let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) else { return Ok(None) };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("its auth entry for {host} is not base64 of user:password"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| format!("its auth entry for {host} is not base64 of user:password"))?;
        Ok(Some(Credentials { username: username.to_owned(), password: password.to_owned() }))
    }

    fn helper(&self, host: &str) -> Option<String> {
        let by_host = self.json["credHelpers"].as_object().and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| same_host(key, host))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        });
        by_host.or_else(|| self.json["credsStore"].as_str().filter(|s| !s.is_empty()).map(str::to_owned))
    }

    fn entry(&self, host: &str) -> Option<&Json> {
        self.json["auths"].as_object()?.iter().find(|(key, _)| same_host(key, host)).map(|(_, v)| v)
    }
}

/// Whether a key of the file (a host, or a URL) names `host`. Docker Hub's API host answers to
/// its historical key.
fn same_host(key: &str, host: &str) -> bool {
    let bare = key.trim_start_matches("https://").trim_start_matches("http://");
    let bare = bare.split('/').next().unwrap_or(bare);
    let hub = |h: &str| matches!(h, "index.docker.io" | "registry-1.docker.io" | "docker.io");
    bare.eq_ignore_ascii_case(host) || (hub(bare) && hub(host))
}

/// Runs `docker-credential-<helper> get` for `host`.
async fn ask_helper(
    helper: &str,
    host: &str,
    search_path: Option<&str>,
) -> Result<Option<Credentials>, String> {
    use tokio::io::AsyncWriteExt;
    let program = format!("docker-credential-{helper}");
    let mut command = tokio::process::Command::new(&program);
    if let Some(path) = search_path {
        // A PATH set for the child is also where the program is looked for.
        command.env("PATH", path);
    }
    let mut child = command
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run the credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(host.as_bytes()).await.map_err(|e| format!("cannot talk to {program}: {e}"))?;
    }
    let output = child.wait_with_output().await.map_err(|e| format!("cannot talk to {program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // The helpers' protocol: "credentials not found in native keychain" is no credentials.
        let said = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!("the credential helper {program} failed for {host} ({})", output.status));
    }
    let json: Json = serde_json::from_str(&stdout)
        .map_err(|_| format!("the credential helper {program} answered something else than JSON"))?;
    let (Some(username), Some(secret)) = (json["Username"].as_str(), json["Secret"].as_str()) else {
        return Err(format!("the credential helper {program} answered without Username and Secret"));
    };
    let username = if username == "<token>" { TOKEN_USER } else { username };
    Ok(Some(Credentials { username: username.to_owned(), password: secret.to_owned() }))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn auths_identity_tokens_and_hub_keys() {
        let user_pass = base64::engine::general_purpose::STANDARD.encode("robot:s3cret");
        let config = DockerConfig::parse(&format!(
            r#"{{"auths": {{
                "127.0.0.1:5000": {{"auth": "{user_pass}"}},
                "lanes.azurecr.io": {{"auth": "", "identitytoken": "refresh-me"}},
                "https://index.docker.io/v1/": {{"auth": "{user_pass}"}},
                "broken.io": {{"auth": "not base64!"}}
            }}}}"#
        ))
        .unwrap();
        let get = |host: &'static str| {
            let config = config.clone();
            async move { config.credentials(host).await }
        };
        let local = get("127.0.0.1:5000").await.unwrap().unwrap();
        assert_eq!((local.username.as_str(), local.password.as_str()), ("robot", "s3cret"));
        let acr = get("LANES.azurecr.io").await.unwrap().unwrap();
        assert_eq!((acr.username.as_str(), acr.password.as_str()), (TOKEN_USER, "refresh-me"));
        assert_eq!(get("registry-1.docker.io").await.unwrap().unwrap().username, "robot");
        assert!(get("other.io").await.unwrap().is_none());
        let e = get("broken.io").await.unwrap_err();
        assert!(e.contains("broken.io") && !e.contains("not base64!"), "{e}");
        assert!(DockerConfig::parse("[1]").is_err() && DockerConfig::parse("{").is_err());
        let shown = format!("{config:?}");
        assert!(
            shown.contains("lanes.azurecr.io")
                && !shown.contains("refresh-me")
                && !shown.contains(&user_pass)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_credential_helper_is_asked_for_its_host() {
        // A helper on PATH, as docker finds them: it answers for one host and echoes the host
        // it was asked about.
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-lanestack-test");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread host\nif [ \"$1\" = get ] && [ \"$host\" = lanes.azurecr.io ]; then\n  \
             printf '{\"ServerURL\":\"%s\",\"Username\":\"<token>\",\"Secret\":\"from-helper\"}' \"$host\"\nelse\n  \
             echo 'credentials not found in native keychain'; exit 1\nfi\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        let config = DockerConfig::parse(
            r#"{"credHelpers": {"lanes.azurecr.io": "lanestack-test"}, "credsStore": "lanestack-test"}"#,
        )
        .unwrap()
        .with_search_path(path);
        let found = config.credentials("lanes.azurecr.io").await.unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), (TOKEN_USER, "from-helper"));
        assert!(config.credentials("other.io").await.unwrap().is_none());
        let missing = DockerConfig::parse(r#"{"credsStore": "no-such-helper-anywhere"}"#).unwrap();
        let e = missing.credentials("x.io").await.unwrap_err();
        assert!(e.contains("docker-credential-no-such-helper-anywhere"), "{e}");
    }
}
