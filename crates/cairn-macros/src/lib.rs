//! One declaration per resource type.
//!
//! `#[derive(Resource)]` on a type's argument struct generates its
//! [`ResourceSchema`](../cairn_core/schema/struct.ResourceSchema.html) and
//! its `ResourceType` implementation; `#[derive(Outputs)]` on its outputs
//! struct generates the typed output references and the output schema;
//! `#[derive(PropObject)]` makes a nested argument struct an object
//! property. Property names are the fields' camelCase names, docs are the
//! fields' `///` comments, and property types follow the Rust types
//! (`cairn_core::dsl::PropTyped`), so the schema, the DSL and the docs
//! cannot disagree. See `cairn_core::dsl` for an example.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Expr, Fields, Ident, LitStr, Token};

/// `#[resource(token = "aws:x:Y", kind = Y, outputs = YOutputs, fixed_name)]` on
/// the arguments struct; field options `#[prop(...)]`.
#[proc_macro_derive(Resource, attributes(resource, prop))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_resource(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// On the outputs struct: fields `Output<T>`, `#[output(secret)]`, `#[output(name = "..")]`.
#[proc_macro_derive(Outputs, attributes(output))]
pub fn derive_outputs(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_outputs(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// A nested object property: the struct's fields are its properties.
#[proc_macro_derive(PropObject, attributes(prop))]
pub fn derive_prop_object(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_prop_object(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The builder alone (`Args::new(required..)` and a setter per optional
/// field), for an arguments struct whose schema is written by hand.
#[proc_macro_derive(Builder)]
pub fn derive_builder(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    builder(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One `key`, `key = expr` item of an attribute list.
struct Item {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Item { key, value })
    }
}

fn items(attrs: &[Attribute], name: &str) -> syn::Result<Vec<Item>> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        let list = attr.parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated)?;
        out.extend(list);
    }
    Ok(out)
}

fn doc(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_string()
}

fn camel_case(ident: &Ident) -> String {
    let raw = ident.to_string();
    let raw = raw.strip_prefix("r#").unwrap_or(&raw);
    let mut out = String::new();
    let mut upper = false;
    for c in raw.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn lit_str(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// The serde `rename_all = "camelCase"` the DSL relies on.
fn require_camel_case_serde(input: &DeriveInput) -> syn::Result<()> {
    let mut found = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let v: LitStr = meta.value()?.parse()?;
                found |= v.value() == "camelCase";
            } else if meta.input.peek(Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    if found {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            &input.ident,
            "add #[serde(rename_all = \"camelCase\")]: property names are the fields' camelCase names",
        ))
    }
}

fn named_fields(input: &DeriveInput) -> syn::Result<&Punctuated<syn::Field, Token![,]>> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => Ok(&f.named),
            _ => Err(syn::Error::new_spanned(input, "expected named fields")),
        },
        _ => Err(syn::Error::new_spanned(input, "expected a struct")),
    }
}

/// `PropertySchema` expressions for each field.
fn property_schemas(input: &DeriveInput) -> syn::Result<Vec<Tokens>> {
    require_camel_case_serde(input)?;
    let mut out = Vec::new();
    for field in named_fields(input)? {
        let ident = field.ident.as_ref().expect("named");
        let ty = &field.ty;
        let mut name = camel_case(ident);
        let mut prop_type = quote!(<#ty as ::cairn_core::dsl::PropTyped>::prop_type());
        let mut modifiers = Vec::new();
        let mut required = quote!(!<#ty as ::cairn_core::dsl::PropTyped>::OPTIONAL);
        for item in items(&field.attrs, "prop")? {
            let key = item.key.to_string();
            match (key.as_str(), &item.value) {
                ("replaces", None) => modifiers.push(quote!(.replaces())),
                ("secret", None) => modifiers.push(quote!(.secret())),
                ("optional", None) => required = quote!(false),
                ("ty", Some(e)) => prop_type = quote!(#e),
                ("default", Some(e)) => {
                    modifiers.push(quote!(.default_value(::cairn_core::dsl::__private::serde_json::json!(#e))));
                    required = quote!(false);
                }
                ("name", Some(e)) => {
                    name = lit_str(e)
                        .ok_or_else(|| syn::Error::new_spanned(e, "expected a string"))?;
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        &item.key,
                        "unknown #[prop] option (replaces, secret, optional, ty = .., default = .., name = \"..\")",
                    ))
                }
            }
        }
        let doc = doc(&field.attrs);
        out.push(quote! {{
            let mut p = ::cairn_core::schema::PropertySchema::new(#name, #prop_type)
                #(#modifiers)*
                .doc(#doc);
            p.required = #required;
            p
        }});
    }
    Ok(out)
}

/// `Some(T)` when `ty` is written `Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// The type arguments of `ty` when it is written `Name<..>` with `Name` one of `names`.
fn generic_args<'a>(ty: &'a syn::Type, names: &[&str]) -> Option<Vec<&'a syn::Type>> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if !names.iter().any(|n| last.ident == n) {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// How a builder takes a value of type `ty`: (generics, parameter type,
/// conversion of `value`). Lists and maps take any iterator of items that
/// convert (`.tags([("env", "dev")])`); anything else `impl Into<ty>`.
fn taking(ty: &syn::Type, value: &Ident) -> (Tokens, Tokens, Tokens) {
    if let Some(args) = generic_args(ty, &["Vec"]).filter(|a| a.len() == 1) {
        let item = args[0];
        return (
            quote!(<__X: ::core::convert::Into<#item>>),
            quote!(impl ::core::iter::IntoIterator<Item = __X>),
            quote!(#value.into_iter().map(::core::convert::Into::into).collect()),
        );
    }
    if let Some(args) = generic_args(ty, &["BTreeMap", "HashMap"]).filter(|a| a.len() == 2) {
        let (k, v) = (args[0], args[1]);
        return (
            quote!(<__K: ::core::convert::Into<#k>, __X: ::core::convert::Into<#v>>),
            quote!(impl ::core::iter::IntoIterator<Item = (__K, __X)>),
            quote!(#value.into_iter().map(|(k, v)| (k.into(), v.into())).collect()),
        );
    }
    (
        quote!(),
        quote!(impl ::core::convert::Into<#ty>),
        quote!(#value.into()),
    )
}

/// Arguments that read naturally: `Args::new(required..)` takes each
/// required field (in declaration order) as anything that converts into
/// it, and every optional field has a chainable setter of its own name
/// taking its value without `Some(..)`:
/// `KeyArgs::new().description("x").enable_key_rotation(true)`.
fn builder(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let mut params = Vec::new();
    let mut inits = Vec::new();
    let mut setters = Vec::new();
    let mut names = Vec::new();
    for field in named_fields(input)? {
        let f = field.ident.as_ref().expect("named");
        let ty = &field.ty;
        let mut name = camel_case(f);
        for item in items(&field.attrs, "prop").unwrap_or_default() {
            if let ("name", Some(e)) = (item.key.to_string().as_str(), &item.value) {
                name = lit_str(e).unwrap_or(name);
            }
        }
        names.push(name);
        match option_inner(ty) {
            Some(inner) => {
                inits.push(quote!(#f: ::core::option::Option::None));
                let doc = format!("Sets `{}`.", camel_case(f));
                let value = Ident::new("value", proc_macro2::Span::call_site());
                let (generics, param, convert) = taking(inner, &value);
                setters.push(quote! {
                    #[doc = #doc]
                    pub fn #f #generics (mut self, value: #param) -> Self {
                        self.#f = ::core::option::Option::Some(#convert);
                        self
                    }
                });
            }
            None => {
                let (generics, param, convert) = taking(ty, f);
                if generics.is_empty() {
                    params.push(quote!(#f: #param));
                    inits.push(quote!(#f: #convert));
                } else {
                    // `new` takes a list or map as it is.
                    params.push(quote!(#f: impl ::core::convert::Into<#ty>));
                    inits.push(quote!(#f: #f.into()));
                }
            }
        }
    }
    Ok(quote! {
        #[allow(clippy::new_without_default, clippy::too_many_arguments, clippy::should_implement_trait, clippy::wrong_self_convention)]
        impl #ident {
            /// The required arguments, in declaration order; optional ones unset.
            pub fn new(#(#params),*) -> Self {
                #ident { #(#inits),* }
            }
            #(#setters)*
        }
        impl ::cairn_core::dsl::ArgsShape for #ident {
            const PROPERTIES: &'static [&'static str] = &[#(#names),*];
        }
    })
}

fn expand_resource(input: &DeriveInput) -> syn::Result<Tokens> {
    let args = &input.ident;
    let (mut token, mut kind, mut outputs, mut fixed) = (None, None, None, false);
    for item in items(&input.attrs, "resource")? {
        match (item.key.to_string().as_str(), item.value) {
            ("token", Some(e)) => token = Some(e),
            ("kind", Some(e)) => kind = Some(e),
            ("outputs", Some(e)) => outputs = Some(e),
            ("fixed_name", None) => fixed = true,
            _ => {
                return Err(syn::Error::new_spanned(
                    &item.key,
                    "unknown #[resource] option (token = \"..\", kind = Type, outputs = Type, fixed_name)",
                ))
            }
        }
    }
    let missing = |what: &str| {
        syn::Error::new_spanned(
            args,
            format!("#[resource(...)] needs `{what}`: #[resource(token = \"aws:svc:Type\", kind = Type, outputs = TypeOutputs)]"),
        )
    };
    let token = token.ok_or_else(|| missing("token"))?;
    let kind = kind.ok_or_else(|| missing("kind"))?;
    let outputs = outputs.ok_or_else(|| missing("outputs"))?;
    let doc = doc(&input.attrs);
    let props = property_schemas(input)?;
    let fixed = fixed.then(|| quote!(.fixed_name()));
    let builder = builder(input)?;
    // `pulumi:providers:<pkg>`: resources may choose it with `.provider(&p)`.
    let provider = lit_str(&token)
        .is_some_and(|t| t.starts_with("pulumi:providers:"))
        .then(|| quote!(impl ::cairn_core::dsl::ProviderType for #kind {}));
    Ok(quote! {
        #builder
        #provider
        impl ::cairn_core::dsl::ResourceType for #kind {
            const TOKEN: &'static str = #token;
            type Args = #args;
            type Outputs = #outputs;
            fn outputs(name: &str) -> #outputs {
                <#outputs as ::cairn_core::dsl::DeclaredOutputs>::of(name)
            }
        }
        impl ::cairn_core::dsl::DeclaredType for #kind {
            fn schema() -> ::cairn_core::schema::ResourceSchema {
                let mut s = ::cairn_core::schema::ResourceSchema::new(#token, #doc) #fixed;
                #( s = s.property(#props); )*
                for o in <#outputs as ::cairn_core::dsl::DeclaredOutputs>::schemas() {
                    s = s.output(o);
                }
                s
            }
        }
    })
}

fn expand_prop_object(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let props = property_schemas(input)?;
    let builder = builder(input)?;
    Ok(quote! {
        #builder
        impl ::cairn_core::dsl::PropTyped for #ident {
            fn prop_type() -> ::cairn_core::schema::PropType {
                ::cairn_core::schema::PropType::object(vec![#(#props),*])
            }
        }
    })
}

fn expand_outputs(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let mut inits = Vec::new();
    let mut schemas = Vec::new();
    for field in named_fields(input)? {
        let f = field.ident.as_ref().expect("named");
        let mut name = camel_case(f);
        let mut secret = None;
        for item in items(&field.attrs, "output")? {
            match (item.key.to_string().as_str(), &item.value) {
                ("secret", None) => secret = Some(quote!(.secret())),
                ("name", Some(e)) => {
                    name = lit_str(e)
                        .ok_or_else(|| syn::Error::new_spanned(e, "expected a string"))?;
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        &item.key,
                        "unknown #[output] option (secret, name = \"..\")",
                    ))
                }
            }
        }
        let doc = doc(&field.attrs);
        inits.push(quote!(#f: ::cairn_core::dsl::Output::of(resource, #name)));
        schemas.push(quote!(::cairn_core::schema::OutputSchema::new(#name, #doc) #secret));
    }
    Ok(quote! {
        impl ::cairn_core::dsl::DeclaredOutputs for #ident {
            fn of(resource: &str) -> Self {
                #ident { #(#inits),* }
            }
            fn schemas() -> ::std::vec::Vec<::cairn_core::schema::OutputSchema> {
                vec![#(#schemas),*]
            }
        }
    })
}
