//! The image provider, named `image`: container images as build artifacts.
//!
//! `image_build` ([`build`]) builds an OCI image without a daemon — an optional build command
//! (`cargo build --release …`), then files packed into deterministic layers ([`layer`]) on top
//! of an optional base image, with the configuration the stack sets ([`oci`]) — and pushes it
//! over the OCI distribution API ([`registry`]). Its identity is the digest of its inputs
//! (`source_digest`: the build's input files, the layers' description, the base's digest and
//! the settings), computed at plan time: unchanged inputs plan no change and push nothing;
//! changed ones plan an update whose `digest` and `ref` (`registry/repository@sha256:…`, what
//! jobs run) are known after apply, so whatever uses the image is planned to change with it.
//!
//! Configuration, in the `provider "image"` block: `registry_auth` blocks (`address`, a host or
//! `*.domain`, `username`, `password`), then Docker's configuration file (`docker_config_file`:
//! `docker login`'s and `az acr login`'s credentials and credential helpers), then
//! `username`/`password` for any other registry,
//! `connect_to` (every registry's connections go to this address, their names kept for TLS and
//! `Host`: the local cloud's registries) and `ca_certificate_file`.

pub mod build;
pub mod docker_config;
pub mod layer;
pub mod oci;
pub mod registry;

use std::path::PathBuf;
use std::sync::RwLock;

use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, Nesting,
    PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceAddress, Value,
};

use crate::registry::{Client, Credentials, RegistryAuth, Settings};

/// The provider's name, as used in type prefixes (`image_build`).
pub const PROVIDER_NAME: &str = "image";

/// The image provider. Cheap to share; the registry client is set by `configure`.
pub struct ImageProvider {
    schema: ProviderSchema,
    // A copy of `image_build`'s block, so that `plan` needs no fallible map lookup.
    build_block: Block,
    base_dir: PathBuf,
    client: RwLock<Option<std::sync::Arc<Client>>>,
}

impl std::fmt::Debug for ImageProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageProvider").field("base_dir", &self.base_dir).finish_non_exhaustive()
    }
}

impl ImageProvider {
    /// A provider resolving relative paths (build inputs, layer sources, the CA file) against
    /// `base_dir`, the stack directory.
    pub fn new(base_dir: impl Into<PathBuf>) -> ImageProvider {
        let s = || AttrType::String;
        let schema = ProviderSchema {
            provider: Block::new()
                .block(
                    "registry_auth",
                    Nesting::List,
                    Block::new()
                        .attr(
                            "address",
                            Attribute::required(s()).describe(
                                "The registry's host (lanes.azurecr.io, 127.0.0.1:5000) or *.domain.",
                            ),
                        )
                        .attr("username", Attribute::required(s()).describe("The user name."))
                        .attr(
                            "password",
                            Attribute::required(s()).sensitive().describe("The password or token."),
                        ),
                )
                .attr(
                    "username",
                    Attribute::optional(s())
                        .describe("The user name for registries no registry_auth block names."),
                )
                .attr(
                    "password",
                    Attribute::optional(s())
                        .sensitive()
                        .describe("The password for registries no registry_auth block names."),
                )
                .attr(
                    "connect_to",
                    Attribute::optional(s()).describe(
                        "host:port to connect to for every registry, keeping the registry's name for TLS (a \
                         local registry serving real names; --emulator sets it).",
                    ),
                )
                .attr(
                    "docker_config_file",
                    Attribute::optional(s()).describe(
                        "Docker's configuration file, for the credentials `docker login` and `az acr login` \
                         keep (the CLI sets ~/.docker/config.json or $DOCKER_CONFIG's when it exists; empty: none).",
                    ),
                )
                .attr(
                    "ca_certificate_file",
                    Attribute::optional(s())
                        .describe("Trust the CAs in this PEM file only, instead of the system's."),
                ),
            ..ProviderSchema::default()
        };
        let mut schema = schema;
        let build = build::schema();
        let build_block = build.block.clone();
        schema.resources.insert(build::TYPE_NAME.to_owned(), build);
        ImageProvider { schema, build_block, base_dir: base_dir.into(), client: RwLock::new(None) }
    }

    fn client(&self) -> Option<std::sync::Arc<Client>> {
        self.client.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn configured(&self) -> Result<std::sync::Arc<Client>, ProviderError> {
        self.client().ok_or_else(|| {
            ProviderError::new(ErrorKind::Failed, "the image provider was used before it was configured")
        })
    }

    fn settings(&self, config: &Value) -> Result<Settings, ProviderError> {
        let invalid = |m: String| ProviderError::new(ErrorKind::Invalid, m);
        let text = |v: &Value, name: &str| {
            v.get(&AttrPath::attr(name)).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let mut settings = Settings::default();
        for block in config.get(&AttrPath::attr("registry_auth")).and_then(Value::as_list).unwrap_or_default()
        {
            let (Some(address), Some(username), Some(password)) =
                (text(block, "address"), text(block, "username"), text(block, "password"))
            else {
                return Err(invalid("a registry_auth block needs address, username and password".to_owned()));
            };
            settings.auth.push(RegistryAuth { address, credentials: Credentials { username, password } });
        }
        settings.default_credentials = match (text(config, "username"), text(config, "password")) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            (None, None) => None,
            _ => return Err(invalid("username and password go together".to_owned())),
        };
        if let Some(addr) = text(config, "connect_to") {
            let resolved = std::net::ToSocketAddrs::to_socket_addrs(&addr)
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| invalid(format!("connect_to {addr:?} is not a host:port that resolves")))?;
            settings.connect_to = Some(resolved);
        }
        if let Some(file) = text(config, "docker_config_file") {
            let path = self.base_dir.join(&file);
            let docker = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| crate::docker_config::DockerConfig::parse(&text))
                .map_err(|e| {
                    invalid(format!("cannot read Docker's configuration file {}: {e}", path.display()))
                })?;
            settings.docker = Some(docker);
        }
        if let Some(file) = text(config, "ca_certificate_file") {
            let path = self.base_dir.join(&file);
            let pem = std::fs::read(&path).map_err(|e| {
                invalid(format!("cannot read the CA certificate file {}: {e}", path.display()))
            })?;
            settings.ca_pem = Some(pem);
        }
        Ok(settings)
    }
}

impl Provider for ImageProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let client = Client::new(self.settings(config)?)?;
            *self.client.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::sync::Arc::new(client));
            Ok(())
        })
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        match check_type(address) {
            Ok(()) => build::validate(config),
            Err(e) => vec![(AttrPath::root(), e.message)],
        }
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            build::plan(
                &self.build_block,
                &self.base_dir,
                self.client().as_deref(),
                request.prior_state,
                request.config,
            )
            .await
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            let client = self.configured()?;
            match (request.prior_state, request.planned_state) {
                (_, None) => match request.prior_state {
                    Some(prior) => build::delete(&client, prior).await.map(|()| Value::Null),
                    None => Ok(Value::Null),
                },
                (_, Some(planned)) => build::apply(&self.base_dir, &client, planned).await,
            }
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            build::read(&*self.configured()?, request.state).await
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{}: the image provider has no data sources", request.address),
            ))
        })
    }
}

fn check_type(address: &ResourceAddress) -> Result<(), ProviderError> {
    if address.type_name() == build::TYPE_NAME {
        return Ok(());
    }
    Err(ProviderError::new(
        ErrorKind::Invalid,
        format!("{address}: the image provider has no resource type {:?}", address.type_name()),
    ))
}
