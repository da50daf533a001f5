"""Yonyou U9 (用友 U9) adapter: classic UBF SOAP (zeep) and U9 Cloud OpenAPI (REST), one record shape for both."""
from adapters.u9.cloud_hook import U9CloudHook
from adapters.u9.config import U9CloudConfig, U9SoapConfig
from adapters.u9.erp import U9CloudErp, U9SoapErp
from adapters.u9.hook import U9SoapHook

__all__ = ["U9CloudConfig", "U9CloudErp", "U9CloudHook", "U9SoapConfig", "U9SoapErp", "U9SoapHook"]
