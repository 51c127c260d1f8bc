//! Variable storage of one transaction and resolution of targets to values.
use crate::parser::targets::{Selector, Target};
use crate::vars::Var;
use std::collections::{BTreeMap, HashMap};

/// A keyed collection (TX, IP, ENV, ...): lower-cased names to values.
pub type VarMap = HashMap<String, Vec<u8>, crate::fxhash::FxBuild>;

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A value yielded for a target: its member key (empty for scalars) and bytes.
pub struct Item<'a> {
    pub var: Var,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Which request list and index the value comes from, for the prefilter.
    pub slot: Option<(u8, usize)>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub args_get: Pairs,
    pub args_post: Pairs,
    pub headers: Pairs,
    pub cookies: Pairs,
    pub files: Pairs,
    pub files_sizes: Pairs,
    pub files_tmp: Pairs,
    pub part_headers: Pairs,
    pub xml_text: Option<Vec<u8>>,
    pub xml_attrs: Vec<Vec<u8>>,
    pub response_headers: Pairs,
    pub matched_vars: Pairs,
    pub matched_var: Vec<u8>,
    pub matched_var_name: Vec<u8>,
    /// Scalars indexed by `Var as usize`.
    pub scalars: Vec<Option<Vec<u8>>>,
    pub tx: VarMap,
    pub colls: BTreeMap<&'static str, VarMap>,
    pub env: VarMap,
    /// The rule being evaluated, for `RULE` and `%{rule.*}`.
    pub rule_id: u32,
    pub rule_msg: std::sync::Arc<[u8]>,
    pub rule_severity: Option<u8>,
}

impl Store {
    pub fn set(&mut self, var: Var, value: impl Into<Vec<u8>>) {
        let i = var as usize;
        if self.scalars.len() <= i {
            self.scalars.resize(i + 1, None);
        }
        self.scalars[i] = Some(value.into());
    }

    pub fn scalar(&self, var: Var) -> Option<&[u8]> {
        self.scalars.get(var as usize).and_then(|v| v.as_deref())
    }

    fn pairs(&self, var: Var) -> Option<(&Pairs, Option<&Pairs>, bool)> {
        // (first list, optional second list, yield names instead of values)
        Some(match var {
            Var::Args => (&self.args_get, Some(&self.args_post), false),
            Var::ArgsGet => (&self.args_get, None, false),
            Var::ArgsPost => (&self.args_post, None, false),
            Var::ArgsNames => (&self.args_get, Some(&self.args_post), true),
            Var::ArgsGetNames => (&self.args_get, None, true),
            Var::ArgsPostNames => (&self.args_post, None, true),
            Var::RequestHeaders => (&self.headers, None, false),
            Var::RequestHeadersNames => (&self.headers, None, true),
            Var::RequestCookies => (&self.cookies, None, false),
            Var::RequestCookiesNames => (&self.cookies, None, true),
            Var::Files => (&self.files, None, false),
            Var::FilesNames => (&self.files, None, true),
            Var::FilesSizes => (&self.files_sizes, None, false),
            Var::FilesTmpNames | Var::FilesTmpContent => (&self.files_tmp, None, false),
            Var::MultipartPartHeaders => (&self.part_headers, None, false),
            Var::ResponseHeaders => (&self.response_headers, None, false),
            Var::ResponseHeadersNames => (&self.response_headers, None, true),
            Var::MatchedVars => (&self.matched_vars, None, false),
            Var::MatchedVarsNames => (&self.matched_vars, None, true),
            _ => return None,
        })
    }

    fn map(&self, var: Var) -> Option<&VarMap> {
        match var {
            Var::Tx => Some(&self.tx),
            Var::Env => Some(&self.env),
            Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource | Var::Geo => {
                self.colls.get(var.name())
            }
            _ => None,
        }
    }

    /// Calls `f` for every value `target` selects, skipping members `excluded` says to.
    pub fn visit(
        &self,
        target: &Target,
        excluded: &dyn Fn(Var, &[u8]) -> bool,
        f: &mut dyn FnMut(Item<'_>),
    ) {
        let var = target.var;
        let sel = target.selector.as_ref();
        let keep = |key: &[u8]| sel.is_none_or(|s| s.matches(key)) && !excluded(var, key);
        if !var.is_collection() && excluded(var, b"") {
            return;
        }
        if target.count {
            let mut n = 0usize;
            self.visit(
                &Target {
                    count: false,
                    ..target.clone()
                },
                excluded,
                &mut |_| n += 1,
            );
            let s = n.to_string();
            f(Item {
                var,
                key: b"",
                value: s.as_bytes(),
                slot: None,
            });
            return;
        }
        if let Some((a, b, names)) = self.pairs(var) {
            let ids = super::prefilter::lists_of(var);
            for (n, list) in [Some(a), b].into_iter().flatten().enumerate() {
                let id = ids.and_then(|ids| ids.get(n).copied());
                for (i, (k, v)) in list.iter().enumerate() {
                    if keep(k) {
                        f(Item {
                            var,
                            key: k,
                            value: if names { k } else { v },
                            slot: id.map(|id| (id, i)),
                        });
                    }
                }
            }
            return;
        }
        if let Some(map) = self.map(var) {
            match sel {
                Some(Selector::Key(k)) => {
                    if let Some(v) = map.get(k.as_str())
                        && !excluded(var, k.as_bytes())
                    {
                        f(Item {
                            var,
                            key: k.as_bytes(),
                            value: v,
                            slot: None,
                        });
                    }
                }
                _ => {
                    for (k, v) in map {
                        if keep(k.as_bytes()) {
                            f(Item {
                                var,
                                key: k.as_bytes(),
                                value: v,
                                slot: None,
                            });
                        }
                    }
                }
            }
            return;
        }
        match var {
            Var::Xml => {
                let path = match sel {
                    Some(Selector::Key(k)) => k.as_str(),
                    _ => "/*",
                };
                if path.contains('@') {
                    for a in &self.xml_attrs {
                        f(Item {
                            var,
                            key: b"",
                            value: a,
                            slot: None,
                        });
                    }
                } else if let Some(t) = &self.xml_text {
                    f(Item {
                        var,
                        key: b"",
                        value: t,
                        slot: None,
                    });
                }
            }
            Var::MatchedVarOne => f(Item {
                var,
                key: b"",
                value: &self.matched_var,
                slot: None,
            }),
            Var::MatchedVarName => f(Item {
                var,
                key: b"",
                value: &self.matched_var_name,
                slot: None,
            }),
            Var::Rule => {
                let id = self.rule_id.to_string();
                let key = match sel {
                    Some(Selector::Key(k)) => k.as_str(),
                    _ => "id",
                };
                let value: &[u8] = match key {
                    "id" => id.as_bytes(),
                    "msg" => &self.rule_msg,
                    _ => b"",
                };
                f(Item {
                    var,
                    key: key.as_bytes(),
                    value,
                    slot: None,
                });
            }
            _ => {
                if let Some(v) = self.scalar(var) {
                    f(Item {
                        var,
                        key: b"",
                        value: v,
                        slot: None,
                    });
                }
            }
        }
    }

    /// First value of `var`/`key`, for macro expansion.
    pub fn first(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
        let t = Target {
            var,
            selector: key.map(|k| Selector::Key(k.to_string())),
            exclude: false,
            count: false,
        };
        let mut done = false;
        self.visit(&t, &|_, _| false, &mut |item| {
            if !done {
                out.extend_from_slice(item.value);
                done = true;
            }
        });
    }
}

impl crate::macros::Resolver for Store {
    fn resolve(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
        if var == Var::Rule && key == Some("severity") {
            if let Some(s) = self.rule_severity {
                out.extend_from_slice(s.to_string().as_bytes());
            }
            return;
        }
        self.first(var, key, out);
    }
}

/// `ARGS:foo` style name of a matched value.
pub fn full_name(var: Var, key: &[u8]) -> Vec<u8> {
    let mut n = var.name().as_bytes().to_vec();
    if !key.is_empty() {
        n.push(b':');
        n.extend_from_slice(key);
    }
    n
}
