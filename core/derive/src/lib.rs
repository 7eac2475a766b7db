//! Derives for the Kino plugin API, re-exported by `kino-api` (plugins never name this crate).
//!
//! - `#[derive(CommandArgs)]` on a struct with named fields: one struct is a command's whole
//!   argument spec (names, kinds, required or defaulted, choices, ranges, lengths, secrets, docs
//!   from doc comments) and its parser, so `help`, completion, docs/commands.md and the handler
//!   cannot disagree.
//! - `#[derive(ArgChoice)]` on an enum of unit variants: a closed set of string values, each
//!   variant's snake_case name on the wire.
//!
//! Field attributes (`#[arg(...)]`): `range = A..=B` (or `A..`, `..=B`), `max_len = N`
//! (characters), `secret`, `default = EXPR`, `rename = "wire_name"`, `flatten` (splice in
//! another `CommandArgs` struct, e.g. `kino_api::Paging`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, LitStr, RangeLimits};

/// Implements `kino_api::CommandArgs` for a struct: see the crate docs for the attributes.
#[proc_macro_derive(CommandArgs, attributes(arg))]
pub fn derive_command_args(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    command_args(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `kino_api::ArgValue` for an enum of unit variants (a closed choice).
#[proc_macro_derive(ArgChoice, attributes(arg))]
pub fn derive_arg_choice(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    arg_choice(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Default)]
struct FieldAttrs {
    min: Option<Tokens>,
    max: Option<Tokens>,
    max_len: Option<Expr>,
    secret: bool,
    default: Option<Expr>,
    rename: Option<String>,
    flatten: bool,
}

fn field_attrs(attrs: &[syn::Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("arg")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("range") {
                let Expr::Range(r) = meta.value()?.parse::<Expr>()? else {
                    return Err(meta.error("expected a range such as 1..=5"));
                };
                if let Some(start) = r.start {
                    out.min = Some(quote!((#start) as i64));
                }
                match (r.end, r.limits) {
                    (Some(end), RangeLimits::Closed(_)) => out.max = Some(quote!((#end) as i64)),
                    (Some(end), RangeLimits::HalfOpen(_)) => {
                        out.max = Some(quote!((#end) as i64 - 1))
                    }
                    (None, _) => {}
                }
            } else if meta.path.is_ident("max_len") {
                out.max_len = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("secret") {
                out.secret = true;
            } else if meta.path.is_ident("default") {
                out.default = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("flatten") {
                out.flatten = true;
            } else {
                return Err(meta.error(
                    "unknown `arg` attribute (range, max_len, secret, default, rename, flatten)",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The doc comment's lines, joined into the one line `help` shows.
fn doc_of(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                let line = s.value();
                let line = line.trim();
                if !line.is_empty() {
                    lines.push(line.to_owned());
                }
            }
        }
    }
    lines.join(" ")
}

fn command_args(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => f.named.iter().collect::<Vec<_>>(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(_) => {
                return Err(syn::Error::new_spanned(
                    name,
                    "CommandArgs needs named fields: they are the argument names",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                name,
                "CommandArgs derives on a struct",
            ))
        }
    };
    let mut specs = Vec::new();
    let mut parses = Vec::new();
    for f in fields {
        let ident = f
            .ident
            .as_ref()
            .ok_or_else(|| syn::Error::new_spanned(f, "unnamed"))?;
        let ty = &f.ty;
        let a = field_attrs(&f.attrs)?;
        if a.flatten {
            specs.push(quote! {
                __spec.extend(<#ty as ::kino_api::CommandArgs>::spec());
            });
            parses.push(quote! {
                #ident: <#ty as ::kino_api::CommandArgs>::parse(__args)?,
            });
            continue;
        }
        let wire = a
            .rename
            .clone()
            .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_owned());
        let doc = doc_of(&f.attrs);
        let mut set = Vec::new();
        if let Some(min) = &a.min {
            set.push(quote!(__a.min = Some(#min);));
        }
        if let Some(max) = &a.max {
            set.push(quote!(__a.max = Some(#max);));
        }
        if let Some(n) = &a.max_len {
            set.push(quote!(__a.max_len = Some((#n) as u64);));
        }
        if a.secret {
            set.push(quote!(__a.secret = true;));
        }
        let parse = match &a.default {
            Some(d) => {
                set.push(quote! {
                    __a.required = false;
                    let __d: #ty = ::core::convert::Into::into(#d);
                    __a.default = Some(::kino_api::ArgValue::to_json(&__d));
                });
                quote! {
                    #ident: match __args.get(#wire) {
                        Some(__v) => <#ty as ::kino_api::ArgValue>::from_arg(#wire, Some(__v))?,
                        None => ::core::convert::Into::into(#d),
                    },
                }
            }
            None => quote! {
                #ident: <#ty as ::kino_api::ArgValue>::from_arg(#wire, __args.get(#wire))?,
            },
        };
        specs.push(quote! {
            {
                let mut __a = ::kino_api::args::spec_of::<#ty>(#wire, #doc);
                #(#set)*
                __spec.push(__a);
            }
        });
        parses.push(parse);
    }
    Ok(quote! {
        impl #impl_g ::kino_api::CommandArgs for #name #ty_g #where_g {
            fn spec() -> ::std::vec::Vec<::kino_api::ArgInfo> {
                #[allow(unused_mut)]
                let mut __spec = ::std::vec::Vec::new();
                #(#specs)*
                __spec
            }

            #[allow(unused_variables)]
            fn parse(__args: &::kino_api::Args) -> ::core::result::Result<Self, ::kino_api::CmdError> {
                ::core::result::Result::Ok(#name { #(#parses)* })
            }
        }
    })
}

/// `MovieKind` → `movie_kind`.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn arg_choice(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Enum(e) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "ArgChoice derives on an enum",
        ));
    };
    let mut idents = Vec::new();
    let mut wires = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                v,
                "ArgChoice variants carry no data",
            ));
        }
        let a = field_attrs(&v.attrs)?;
        idents.push(&v.ident);
        wires.push(a.rename.unwrap_or_else(|| snake_case(&v.ident.to_string())));
    }
    Ok(quote! {
        impl #name {
            /// The wire name of this choice.
            pub fn as_str(&self) -> &'static str {
                match self { #(#name::#idents => #wires,)* }
            }
        }

        impl ::kino_api::ArgValue for #name {
            const KIND: ::kino_api::ArgKind = ::kino_api::ArgKind::String;

            fn choices() -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(#wires.to_owned()),*]
            }

            fn from_arg(
                name: &str,
                value: ::core::option::Option<&::kino_api::serde_json::Value>,
            ) -> ::core::result::Result<Self, ::kino_api::CmdError> {
                let s = <::std::string::String as ::kino_api::ArgValue>::from_arg(name, value)?;
                match s.as_str() {
                    #(#wires => Ok(#name::#idents),)*
                    _ => Err(::kino_api::args::not_a_choice(name, &Self::choices())),
                }
            }

            fn to_json(&self) -> ::kino_api::serde_json::Value {
                ::kino_api::serde_json::Value::String(self.as_str().to_owned())
            }
        }
    })
}
