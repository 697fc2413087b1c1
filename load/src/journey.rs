//! One operation of each kind, timed as a whole, and the citizens the
//! workers own between operations.

use std::fmt;

use crate::authenticator::Passkey;
use crate::client::{self, as_client};
use crate::failure::{Context, Failure};
use crate::target::Target;

/// What an app asks for at sign-in.
pub const LOGIN_SCOPE: &str = "openid profile";
/// What an app that keeps the citizen connected asks for.
pub const REFRESH_SCOPE: &str = "openid profile offline_access";

/// One kind of operation; each counts as one in the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Journey {
    /// Enrollment start + finish: a new citizen and passkey.
    Enroll,
    /// Passkey sign-in, /authorize (consent given), /token, ID token check,
    /// /userinfo.
    Login,
    /// One refresh-token grant, keeping the rotated token.
    Refresh,
    /// `GET /.well-known/openid-configuration`.
    Discovery,
    /// `GET /jwks.json`.
    Jwks,
}

impl Journey {
    pub const ALL: [Journey; 5] = [
        Journey::Enroll,
        Journey::Login,
        Journey::Refresh,
        Journey::Discovery,
        Journey::Jwks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Journey::Enroll => "enroll",
            Journey::Login => "login",
            Journey::Refresh => "refresh",
            Journey::Discovery => "discovery",
            Journey::Jwks => "jwks",
        }
    }

    pub fn parse(s: &str) -> Option<Journey> {
        Journey::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether this journey needs enrolled, consenting citizens.
    pub fn needs_citizens(self) -> bool {
        matches!(self, Journey::Login | Journey::Refresh)
    }
}

impl fmt::Display for Journey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enrolled citizen: their passkey, for refresh their latest refresh
/// token, and the address they come from (none: this machine's). Owned by
/// one worker, so the passkey counter only rises.
pub struct Citizen {
    pub passkey: Passkey,
    pub refresh_token: Option<String>,
    pub address: Option<String>,
}

/// Enrolls a citizen coming from `address` and grants the app consent for
/// each scope the run uses (untimed set-up). With `REFRESH_SCOPE`, keeps a
/// refresh token.
pub async fn prepare_citizen(
    target: &Target,
    scopes: &[&str],
    address: Option<String>,
) -> Result<Citizen, Failure> {
    as_client(address.clone(), consenting_citizen(target, scopes, address)).await
}

async fn consenting_citizen(
    target: &Target,
    scopes: &[&str],
    address: Option<String>,
) -> Result<Citizen, Failure> {
    let (passkey, cookie) = target.enroll().await?;
    let mut citizen = Citizen {
        passkey,
        refresh_token: None,
        address,
    };
    for scope in scopes {
        let (code, verifier) = target.authorize(&cookie, scope, "setup", true).await?;
        if *scope == REFRESH_SCOPE {
            let tokens = target.exchange(&code, &verifier).await?;
            citizen.refresh_token = Some(
                tokens
                    .refresh_token
                    .kind("no refresh_token for offline_access")?,
            );
        }
    }
    Ok(citizen)
}

/// Runs one timed operation, from its citizen's address, or with
/// `spread` from a new address of its own.
pub async fn run(
    target: &Target,
    journey: Journey,
    citizen: Option<&mut Citizen>,
    spread: bool,
) -> Result<(), Failure> {
    let address = match &citizen {
        Some(citizen) => citizen.address.clone(),
        None => spread.then(client::someone),
    };
    as_client(address, operation(target, journey, citizen)).await
}

async fn operation(
    target: &Target,
    journey: Journey,
    citizen: Option<&mut Citizen>,
) -> Result<(), Failure> {
    match journey {
        Journey::Enroll => target.enroll().await.map(|_| ()),
        Journey::Login => login(target, citizen.kind("no citizen for login")?).await,
        Journey::Refresh => refresh(target, citizen.kind("no citizen for refresh")?).await,
        Journey::Discovery => target.fetch("/.well-known/openid-configuration").await,
        Journey::Jwks => target.fetch("/jwks.json").await,
    }
}

/// The whole "Sign in with Civitas" journey of an app that was consented to.
async fn login(target: &Target, citizen: &mut Citizen) -> Result<(), Failure> {
    let cookie = target.sign_in(&mut citizen.passkey).await?;
    let nonce = base64_nonce();
    let (code, verifier) = target
        .authorize(&cookie, LOGIN_SCOPE, &nonce, false)
        .await?;
    let tokens = target.exchange(&code, &verifier).await?;
    let sub = target
        .check_id_token(&tokens.id_token, Some(&nonce))
        .await?;
    let userinfo_sub = target.userinfo(&tokens.access_token).await?;
    if sub != userinfo_sub {
        return Err(Failure::new(
            "userinfo sub differs from id token sub",
            format!("{sub} vs {userinfo_sub}"),
        ));
    }
    Ok(())
}

/// A refresh grant; the rotated token replaces the old one.
async fn refresh(target: &Target, citizen: &mut Citizen) -> Result<(), Failure> {
    let token = citizen
        .refresh_token
        .take()
        .kind("no refresh token (lost after an earlier error)")?;
    let tokens = target.refresh(&token).await?;
    citizen.refresh_token = Some(tokens.refresh_token.kind("refresh not rotated")?);
    target.check_id_token(&tokens.id_token, None).await?;
    Ok(())
}

/// After a failed refresh the token may be spent: sign in again and get a
/// new one (untimed), so one error does not fail every later operation.
pub async fn recover(target: &Target, citizen: &mut Citizen) -> Result<(), Failure> {
    let cookie = target.sign_in(&mut citizen.passkey).await?;
    let (code, verifier) = target
        .authorize(&cookie, REFRESH_SCOPE, "recover", false)
        .await?;
    let tokens = target.exchange(&code, &verifier).await?;
    citizen.refresh_token = tokens.refresh_token;
    Ok(())
}

fn base64_nonce() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
