//! Golden files pin the exact `iptables-restore` input and `nft -f` script for each
//! configuration. Regenerate after an intended change with `UPDATE_GOLDEN=1 cargo test -p palisade-redirect`.

use std::path::PathBuf;

use palisade_redirect::render::{Family, iptables, nft};
use palisade_redirect::{IpFamilies, PortRange, PortSelection, RedirectConfig, ServiceMesh, plan};

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    palisade_api::testing::golden(&path, actual);
}

fn check_all(name: &str, config: RedirectConfig) {
    let p = plan(&config);
    for family in Family::of(config.families) {
        let suffix = match family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        golden(&format!("{name}.{suffix}"), &iptables::render(&p, family));
    }
    golden(&format!("{name}.nft"), &nft::render(&p));
}

fn ports(list: &str) -> Vec<PortRange> {
    PortRange::parse_list("test", list).unwrap()
}

#[test]
fn default_redirects_every_port_but_the_engines() {
    check_all("default", RedirectConfig::default());
}

#[test]
fn excluded_ports_return_before_redirect() {
    check_all(
        "exclude",
        RedirectConfig {
            exclude: ports("8081,9090"),
            ..Default::default()
        },
    );
}

#[test]
fn include_list_redirects_only_listed_ports() {
    check_all(
        "include",
        RedirectConfig {
            include: PortSelection::Only(ports("8080,8443")),
            exclude: ports("8443"),
            ..Default::default()
        },
    );
}

#[test]
fn port_ranges_render_as_ranges() {
    check_all(
        "ranges",
        RedirectConfig {
            include: PortSelection::Only(ports("8000-8999")),
            exclude: ports("8500-8600,9000-9100"),
            ..Default::default()
        },
    );
}

#[test]
fn istio_mode_excludes_istio_ports_and_redirects_its_loopback_forwarding() {
    check_all(
        "istio",
        RedirectConfig {
            mesh: ServiceMesh::Istio,
            engine_uid: 2000,
            engine_gid: 2001,
            families: IpFamilies { v4: true, v6: true },
            ..Default::default()
        },
    );
}

#[test]
fn ipv6_only_pod_gets_ip6tables_rules() {
    check_all(
        "ipv6",
        RedirectConfig {
            families: IpFamilies {
                v4: false,
                v6: true,
            },
            ..Default::default()
        },
    );
}

#[test]
fn dual_stack_pod_gets_both_families() {
    check_all(
        "dual-stack",
        RedirectConfig {
            families: IpFamilies { v4: true, v6: true },
            exclude: ports("9000-9100"),
            ..Default::default()
        },
    );
}

#[test]
fn every_iptables_rule_carries_the_owner_comment() {
    let p = plan(&RedirectConfig {
        mesh: ServiceMesh::Istio,
        ..Default::default()
    });
    for line in iptables::rule_lines(&p, Family::V4) {
        assert!(line.contains("-m comment --comment palisade"), "{line}");
    }
}

#[test]
fn capture_port_cannot_be_included() {
    let config = RedirectConfig {
        include: PortSelection::Only(ports("15000-15400")),
        ..Default::default()
    };
    assert!(
        config
            .validate("include")
            .unwrap_err()
            .to_string()
            .contains("15300")
    );
}

#[test]
fn families_follow_namespace_addresses() {
    let v4: std::net::IpAddr = "10.1.0.5".parse().unwrap();
    let v6: std::net::IpAddr = "fd00::5".parse().unwrap();
    let ll: std::net::IpAddr = "fe80::1".parse().unwrap();
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(
        IpFamilies::from_addresses(&[lo, v4, ll]),
        IpFamilies {
            v4: true,
            v6: false
        }
    );
    assert_eq!(
        IpFamilies::from_addresses(&[v4, v6]),
        IpFamilies { v4: true, v6: true }
    );
    assert_eq!(
        IpFamilies::from_addresses(&[v6, ll]),
        IpFamilies {
            v4: false,
            v6: true
        }
    );
    assert_eq!(
        IpFamilies::from_addresses(&[lo]),
        IpFamilies {
            v4: true,
            v6: false
        }
    );
}
