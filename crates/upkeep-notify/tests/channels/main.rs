//! Every channel against real servers on 127.0.0.1 that check the exact request (method, path, headers,
//! whole JSON bodies, signatures) and answer with what each outcome needs; SMTP against a small SMTP server
//! written here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat;
mod email;
mod outbound;
mod smtp_server;
mod support;
mod telegram_ntfy;
mod webhook;
