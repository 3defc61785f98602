//! `get:` against the emulator: a VPC made outside cairn (through the
//! SDK) is read at preview; its outputs feed a managed security group;
//! it is recorded in state as external, and never changed or deleted.

use super::common::{free_port, sdk_config, Sandbox};

#[tokio::test(flavor = "multi_thread")]
async fn get_reads_an_sdk_created_vpc_and_never_manages_it() {
    let port = free_port();
    let sb = Sandbox::new();
    let state = sb.dir.path().join("emulator");
    let sb = sb
        .with_env("LOCAL_AWS_PORT", &port.to_string())
        .with_env("CAIRN_EMULATOR_STATE", &state.display().to_string());
    struct Stop<'a>(&'a Sandbox);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.command(&["emulator", "stop"]).output();
        }
    }
    let _stop = Stop(&sb);
    sb.run(&["emulator", "start"]).ok();
    let cfg = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("create vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let file = sb.dir.path().join("get.yaml");
    std::fs::write(
        &file,
        format!("name: get-vpc\nresources:\n  vpc:\n    type: aws:ec2/vpc:Vpc\n    get:\n      id: {vpc_id}\n  sg:\n    type: aws:ec2:SecurityGroup\n    properties:\n      name: beside-read-vpc\n      description: in a VPC read with get\n      vpcId: ${{vpc.id}}\noutputs:\n  cidr: ${{vpc.cidrBlock}}\n  sgVpc: ${{sg.vpcId}}\n"),
    )
    .expect("write");
    let file = file.display().to_string();
    let preview = sb.run(&["preview", "--local", "--stack-file", &file]).ok();
    assert!(
        preview.stdout.contains("sg (aws:ec2:SecurityGroup) create")
            && !preview.stdout.contains("vpc (aws:ec2:Vpc) create")
            && preview.stdout.contains(&format!(
                "> vpc (aws:ec2:Vpc) read {vpc_id} (get:, not managed)"
            )),
        "{}",
        preview.stdout
    );
    sb.run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack-file",
            &file,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json["cidr"], "10.42.0.0/16", "{json}");
    assert_eq!(json["sgVpc"], vpc_id.as_str(), "{json}");
    let list = sb
        .run(&["state", "list", "--local", "--stack-file", &file])
        .ok();
    // Recorded as Pulumi records a read: external, never deleted.
    assert!(
        list.stdout
            .lines()
            .any(|l| l == format!("vpc\taws:ec2:Vpc\t{vpc_id}\texternal")),
        "not recorded as external: {}",
        list.stdout
    );
    sb.run(&["destroy", "--yes", "--local", "--stack-file", &file])
        .ok();
    let still = ec2
        .describe_vpcs()
        .vpc_ids(&vpc_id)
        .send()
        .await
        .expect("the read VPC is still there");
    assert_eq!(still.vpcs().len(), 1);
}
