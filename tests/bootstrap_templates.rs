//! The user-data templates of the reference architecture, rendered for every instance the
//! way the instance driver renders them, then checked: `bash -n` parses each script,
//! ShellCheck finds nothing (scripts/test installs it), and the Puppet server and agents get
//! what the reference architecture promises.

use std::io::Write as _;
use std::process::{Command, Stdio};

use strato_graph::{Desired, Graph};

/// Every instance's rendered user data, with stand-ins for attributes AWS assigns.
fn rendered() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy-specs/wso2-apim-ei.toml");
    let doc = strato_spec::load(&path).unwrap();
    assert!(!doc.has_errors());
    let graph = Graph::from_document(&doc);
    let mut out = Vec::new();
    for node in graph.nodes() {
        let Some(Desired::Instance(spec)) = &node.desired else { continue };
        let ud = spec.user_data.as_ref().unwrap_or_else(|| panic!("{} has user data", node.address));
        let text = ud
            .render(|n, attr| Some(format!("{}-{attr}", graph.node(n).address)))
            .unwrap_or_else(|r| panic!("{}: `${{{r}}}` unresolved", node.address));
        out.push((node.address.to_string(), text));
    }
    assert_eq!(out.len(), 12);
    out
}

fn run_with_stdin(program: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test installs it)"));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_rendered_script_parses_and_passes_shellcheck() {
    for (address, text) in rendered() {
        assert!(!text.contains("${deployment.") && !text.contains("${var.") && !text.contains("${node."), "{address}");
        let parse = run_with_stdin("bash", &["-n"], &text);
        assert!(parse.status.success(), "{address}: bash -n:\n{}", String::from_utf8_lossy(&parse.stderr));
        let lint = run_with_stdin("shellcheck", &["--shell=bash", "-"], &text);
        assert!(lint.status.success(), "{address}: shellcheck:\n{}\n{text}", String::from_utf8_lossy(&lint.stdout));
    }
}

#[test]
fn the_puppet_server_gets_everything_the_modules_need_and_signs_by_challenge() {
    let all = rendered();
    let server = &all.iter().find(|(a, _)| a == "instance.puppet").unwrap().1;
    for needed in [
        "database.apim-db-endpoint",
        "database.analytics-db-endpoint",
        "file_system.apim-shared-dns_name",
        "load_balancer.apim-public-dns_name",
        "load_balancer.apim-internal-dns_name",
        "load_balancer.ei-services-dns_name",
        "load_balancer.ei-internal-dns_name",
        "load_balancer.analytics-internal-dns_name",
        "database.apim-db-master_secret_arn",
        "database.analytics-db-master_secret_arn",
    ] {
        assert!(server.contains(needed), "the Puppet server's user data lacks {needed}");
    }
    assert!(server.contains("autosign /etc/puppetlabs/puppet/autosign.sh"), "policy-based autosigning");
    assert!(!server.contains("autosign true") && !server.contains("autosign = true"), "never blanket autosign");
    // Agents connect to the fixed address: the server's certificate must carry it, set
    // before the CA signs that certificate.
    let alt_names = server.find("dns_alt_names 'IP:10.0.30.10'").expect("the server's address in its certificate");
    assert!(alt_names < server.find("puppetserver ca setup").unwrap(), "alternative names before the CA");
}

/// The CSR challenge never appears in user data: every node but the bastion reads it at
/// boot from SSM Parameter Store with its role, into files only root (and on the server the
/// puppet user) can read, never through stdout, which the bootstrap log keeps.
#[test]
fn the_csr_challenge_is_fetched_at_boot_not_rendered() {
    for (address, text) in rendered().iter().filter(|(a, _)| a != "instance.bastion") {
        let fetch = text
            .find("aws ssm get-parameter --with-decryption --name '/strato/wso2/csr-challenge'")
            .unwrap_or_else(|| panic!("{address} fetches the challenge"));
        assert!(text.contains("--region 'us-east-1' --query Parameter.Value --output text > \"$1\""), "{address}");
        let umask = text.find("umask 077").expect("root-only files");
        assert!(umask < fetch, "{address}: umask 077 before the challenge is written");
        assert!(text.contains("for attempt in {1..30}"), "{address}: retried while the role's credentials arrive");
        assert!(!text.contains("csr_challenge}") && !text.contains("echo \"$challenge"), "{address}");
        assert!(text.contains("https://yum.puppet.com/puppet8-release-amazon-2023.noarch.rpm"), "{address}: AL2023");
    }
}

#[test]
fn agents_point_at_the_fixed_server_and_carry_their_role_cluster_and_index() {
    for (address, text) in rendered().iter().filter(|(a, _)| a != "instance.puppet" && a != "instance.bastion") {
        let name = address.strip_prefix("instance.").unwrap();
        assert!(text.contains("server '10.0.30.10'"), "{address}");
        assert!(text.contains("pp_role: '") && text.contains("pp_cluster: '"), "{address}");
        assert!(text.contains("1.2.840.113549.1.9.7: '$challenge'"), "{address}: the CSR challenge");
        let index = name.rsplit('-').next().unwrap().parse::<u32>().unwrap_or(1);
        assert!(text.contains(&format!("1.3.6.1.4.1.34380.1.2.1: '{index}'")), "{address}: index {index}");
        // Only API Manager nodes mount the shared file system.
        let mounts = text.contains("readonly EFS_DNS_NAME='file_system.apim-shared-dns_name'");
        assert_eq!(mounts, name.starts_with("apim-") && !name.contains("analytics"), "{address}");
    }
}
