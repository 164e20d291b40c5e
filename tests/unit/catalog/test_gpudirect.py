"""GPUDirect facts: every GKE fabric kind named GPUDirect-TCPX/TCPXO in multinode.yaml has its daemon and
installer; RDMA and EFA have none; every row names its upstream source."""

from inferstack.catalog import _data
from inferstack.catalog.gpudirect import gpudirect


def test_tcpx_and_tcpxo_fabrics_have_gpudirect_facts_and_others_none():
    kinds = {row["fabric"] for rows in _data("multinode.yaml")["fabrics"].values() for row in rows.values()}
    assert kinds == {"efa", "gpudirect-tcpx", "gpudirect-tcpxo", "rdma"}
    tcpx, tcpxo = gpudirect("gpudirect-tcpx"), gpudirect("gpudirect-tcpxo")
    assert (
        tcpx is not None
        and tcpx.daemon.name == "tcpx-daemon"
        and tcpx.nic_list_env == "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME"
    )
    assert tcpxo is not None and tcpxo.daemon.name == "tcpxo-daemon" and tcpxo.nic_list_env == "NCCL_FASTRAK_IFNAME"
    assert tcpx.daemon.socket == ("/run/tcpx", "/tmp") and tcpxo.daemon.socket is None
    assert gpudirect("rdma") is None and gpudirect("efa") is None


def test_every_gpudirect_row_names_its_upstream_commit():
    for row in _data("gpudirect.yaml")["fabrics"].values():
        assert row["source"].startswith("container-engine-accelerators@992db81 ")
    assert _data("gpudirect.yaml")["device_injector"]["source"].startswith("container-engine-accelerators@992db81 ")
