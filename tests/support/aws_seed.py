"""Seed EC2 resources in moto_server through a boto3 EC2 client (use `aws.ec2`, which talks to moto directly,
so seeding is neither counted nor broken by the proxy's faults).

    gpu = instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "wei"})
    old = stopped(aws.ec2, "g5.12xlarge", {"team": "ml"})
    snap = snapshot(aws.ec2, 500, {"created-by": "pipeline", "pipeline": "nightly"}, "nightly run 42")
    ami, used = image_using(aws.ec2)          # `used` is the snapshot moto made for the AMI
    disable(aws.ec2, ami)

Ages: moto stamps every instance launch and snapshot start with the time of the request, and moto_server has
no way to change them. Code that judges age must take a clock (bot.clock.Clock); a test that needs a
"200 day old" snapshot seeds it now and runs the code with a FrozenClock 200 days ahead.

moto quirks worth knowing: `register_image` ignores the block devices you pass and creates a 15 GiB snapshot of
its own for every AMI; `describe_images` shows disabled AMIs even without IncludeDisabled (real EC2 hides
them); deleting a snapshot an AMI uses succeeds in moto (real EC2 refuses with InvalidSnapshot.InUse).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASE_IMAGE = "ami-0a5eed0000000b45e"
AZ = "us-east-1a"


def _tag_spec(resource: str, tags: Mapping[str, str] | None) -> list[dict[str, Any]]:
    if not tags:
        return []
    return [{"ResourceType": resource, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def base_image(ec2: Any) -> str:
    """The AMI id instances are launched from: a fixed, well-formed id. moto checks AMI ids only with
    MOTO_ENABLE_AMI_VALIDATION=true, and a registered AMI would bring an auto-created snapshot (and an AMI using
    it) into every snapshot test; register one with `image_using` when a test wants it."""
    return BASE_IMAGE


def instances(ec2: Any, count: int, type: str = "g5.12xlarge", tags: Mapping[str, str] | None = None,
              state: str = "running") -> list[str]:
    """`count` instances of `type` with `tags`, launched in one RunInstances call; `state` running, stopped or
    terminated."""
    launched = ec2.run_instances(ImageId=base_image(ec2), MinCount=count, MaxCount=count, InstanceType=type,
                                 TagSpecifications=_tag_spec("instance", tags))
    ids = [i["InstanceId"] for i in launched["Instances"]]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=ids)
    elif state == "terminated":
        ec2.terminate_instances(InstanceIds=ids)
    elif state != "running":
        raise ValueError(f"moto seeds running, stopped or terminated instances, not {state!r}")
    return ids


def instance(ec2: Any, type: str = "g5.12xlarge", tags: Mapping[str, str] | None = None,
             state: str = "running") -> str:
    """One instance; returns its id."""
    return instances(ec2, 1, type, tags, state)[0]


def stopped(ec2: Any, type: str = "g5.12xlarge", tags: Mapping[str, str] | None = None) -> str:
    return instance(ec2, type, tags, state="stopped")


def snapshot(ec2: Any, gib: int = 100, tags: Mapping[str, str] | None = None, description: str = "") -> str:
    """A completed snapshot of a new `gib` GiB volume; returns its id."""
    volume = ec2.create_volume(AvailabilityZone=AZ, Size=gib)["VolumeId"]
    created = ec2.create_snapshot(VolumeId=volume, Description=description,
                                  TagSpecifications=_tag_spec("snapshot", tags))
    return str(created["SnapshotId"])


def image_using(ec2: Any, name: str = "pipeline-ami", tags: Mapping[str, str] | None = None,
                disabled: bool = False) -> tuple[str, str]:
    """An AMI and the snapshot its root device uses: (image id, snapshot id). The snapshot is the one moto
    creates for the AMI (it ignores block devices passed in), so tag it afterwards if the test needs tags."""
    image = ec2.register_image(Name=name, RootDeviceName="/dev/xvda", Architecture="x86_64",
                               TagSpecifications=_tag_spec("image", tags))["ImageId"]
    described = ec2.describe_images(ImageIds=[image])["Images"][0]
    used = next(m["Ebs"]["SnapshotId"] for m in described["BlockDeviceMappings"] if m.get("Ebs", {}).get("SnapshotId"))
    if disabled:
        disable(ec2, image)
    return str(image), str(used)


def disable(ec2: Any, image_id: str) -> None:
    """DisableImage: real EC2 then hides the AMI unless DescribeImages asks IncludeDisabled=True."""
    ec2.disable_image(ImageId=image_id)


def tag(ec2: Any, resource_id: str, tags: Mapping[str, str]) -> None:
    ec2.create_tags(Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
